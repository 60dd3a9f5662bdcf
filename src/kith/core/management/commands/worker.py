"""``kith worker``: deliver domain events and run background tasks until stopped."""

from django.core.management.base import BaseCommand

from kith.core import health, worker
from kith.core.context import channel


class Command(BaseCommand):
    help = "Deliver outbox events and run queued background tasks."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds to sleep when idle."
        )
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        # A missing, read-only or unmigrated database or a full disk: say so and stop.
        health.check_or_stop("worker")
        with channel("worker"):
            if once:
                delivered = worker.run_once()
                self.stdout.write(f"delivered {delivered} events")
                return
            self.stdout.write("Kith worker running; Ctrl+C to stop.")
            try:
                worker.run_forever(interval=interval)
            except KeyboardInterrupt:
                self.stdout.write("stopped")
