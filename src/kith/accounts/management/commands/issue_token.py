"""``kith token USERNAME --name NAME``: issue an API token and print it once."""

from django.core.management.base import BaseCommand, CommandError

from kith.accounts import services
from kith.accounts.models import User
from kith.core.context import channel
from kith.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Issue a personal API token for a user; the secret is printed once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if user.is_portal:
            raise CommandError(f"{username!r} is a customer's login; API tokens are for staff.")
        try:
            with channel("cli"):
                _, secret = services.issue_token(actor=user, user=user, name=name)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(secret)
