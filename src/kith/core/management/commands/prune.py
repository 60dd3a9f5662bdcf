"""``kith prune``: delete the rows past their retention now (``kith.core.retention``).

The worker does the same every minute within a 2-second budget; this runs until
nothing past its time is left, for an operator who wants the space back at once (after
an upgrade from a version that kept everything, before a backup).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from kith.core import retention


class Command(BaseCommand):
    help = (
        "Delete delivered outbox events (and their delivery rows), idempotency keys and "
        "finished background tasks older than their retention, and expired sessions."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options) -> None:
        pruned = retention.prune(budget_seconds=None)
        if options["json"]:
            self.stdout.write(json.dumps(pruned.counts()))
            return
        self.stdout.write(
            f"Deleted {pruned.events:,} delivered events older than "
            f"{settings.KITH_OUTBOX_KEEP_DAYS} days (with {pruned.deliveries:,} delivery rows), "
            f"{pruned.idempotency_keys:,} idempotency keys older than "
            f"{settings.KITH_IDEMPOTENCY_KEEP_HOURS} hours and {pruned.task_results:,} "
            f"finished tasks older than {settings.KITH_TASK_RESULTS_KEEP_DAYS} days "
            f"(failed ones: {4 * settings.KITH_TASK_RESULTS_KEEP_DAYS} days), and "
            f"{pruned.sessions:,} expired sessions."
        )
