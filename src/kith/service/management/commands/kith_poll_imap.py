"""``manage.py kith_poll_imap``: fetch unseen mail from KITH_IMAP_URL into cases."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kith.service import imap


class Command(BaseCommand):
    help = "Poll the IMAP mailbox in KITH_IMAP_URL and turn new mail into cases."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="Override KITH_IMAP_URL.")
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds.")

    def handle(self, *args, url: str, every: int, **options):
        url = url or settings.KITH_IMAP_URL
        if not url:
            raise CommandError("Set KITH_IMAP_URL (e.g. imaps://user:pass@host:993/INBOX).")
        while True:
            try:
                counts = imap.poll(url)
            except (OSError, ValueError) as exc:
                raise CommandError(f"IMAP poll failed: {exc}") from exc
            self.stdout.write(
                ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no new mail"
            )
            if not every:
                return
            time.sleep(every)
