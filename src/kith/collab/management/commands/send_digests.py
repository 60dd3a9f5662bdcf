"""``manage.py send_digests``: e-mail notification digests (run daily from cron)."""

from django.core.management.base import BaseCommand

from kith.collab import services


class Command(BaseCommand):
    help = "E-mail unread collaboration notifications to users who chose a digest."

    def add_arguments(self, parser):
        parser.add_argument("--mode", choices=["daily", "immediate"], default="daily")

    def handle(self, *args, **options):
        result = services.send_digests(mode=options["mode"])
        self.stdout.write(
            f"Sent {result['notifications']} notifications to {result['users']} users."
        )
