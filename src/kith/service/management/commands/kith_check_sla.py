"""``manage.py kith_check_sla``: flag and notify SLA breaches (run from cron or a timer)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from kith.service import services


class Command(BaseCommand):
    help = "Flag cases whose SLA targets passed, emit case.sla_breached and notify."

    def handle(self, *args, **options):
        found = services.check_breaches()
        self.stdout.write(f"{len(found)} new breach(es)")
