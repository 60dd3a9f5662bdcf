"""``kith worker``: deliver domain events and run background tasks until stopped."""

import contextlib

from django.core.management.base import BaseCommand, CommandError

from kith.core import health, worker
from kith.core.context import channel


class Command(BaseCommand):
    help = "Deliver outbox events and run queued background tasks."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds to sleep when idle."
        )
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")
        parser.add_argument(
            "--role",
            choices=[role.value for role in worker.Role],
            default=worker.Role.ALL.value,
            help="all (default): events, periodic jobs and every task queue; interactive: "
            "all but the bulk work; bulk: the bulk task queue and bulk periodic jobs only "
            "(imports, model fits, identity scoring).",
        )
        parser.add_argument(
            "--supervised",
            action="store_true",
            help="Started by `kith serve` (kith.core.bulk_worker): signals travel on stdin "
            "and stdout, and the worker ends when stdin closes.",
        )

    def handle(self, *args, interval: float, once: bool, role: str, supervised: bool, **options):
        if supervised and role != worker.Role.BULK.value:
            raise CommandError("--supervised runs the bulk share: add --role bulk")
        # A missing, read-only or unmigrated database or a full disk: say so and stop.
        health.check_or_stop("worker")
        with channel("worker"):
            if once:
                delivered = worker.run_once()
                self.stdout.write(f"delivered {delivered} events")
                return
            if supervised:
                from kith.core import bulk_worker

                # Ctrl+C reaches the whole process group: serve says it stopped.
                with contextlib.suppress(KeyboardInterrupt):
                    bulk_worker.run_supervised(interval=interval)
                return
            self.stdout.write("Kith worker running; Ctrl+C to stop.")
            try:
                worker.run_forever(interval=interval, role=worker.Role(role))
            except KeyboardInterrupt:
                self.stdout.write("stopped")
