"""``manage.py smtp_inbound``: receive mail over SMTP and turn it into cases."""

from __future__ import annotations

import time

from aiosmtpd.controller import Controller
from django.core.management.base import BaseCommand

from kith.service.smtp import InboundHandler


class Command(BaseCommand):
    help = "Run an SMTP server that ingests every message it accepts into cases."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)
        parser.add_argument(
            "--only-queue-addresses",
            action="store_true",
            help="Refuse recipients that are not a queue's e-mail address.",
        )

    def handle(self, *args, host: str, port: int, only_queue_addresses: bool, **options):
        controller = Controller(
            InboundHandler(restrict_recipients=only_queue_addresses),
            hostname=host,
            port=port,
            data_size_limit=40 * 1024 * 1024,
        )
        controller.start()
        self.stdout.write(f"Inbound SMTP on {host}:{port}; Ctrl+C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
