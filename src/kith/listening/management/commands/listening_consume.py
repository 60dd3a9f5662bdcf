"""``kith manage listening_consume``: one consumer of the listening ingest stream.

Run as many as the load needs (each its own process, each a member of the consumer
group); see kith.listening.streams. Needs REDIS_URL.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kith.listening import streams


class Command(BaseCommand):
    help = "Consume the listening ingest stream (Redis Streams consumer group) until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", default="", help="Consumer name (default: host-pid).")
        parser.add_argument("--count", type=int, default=10, help="Entries read per round.")
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="Stop when nothing is waiting (benchmarks, one-off catch-up).",
        )

    def handle(self, *args, name: str, count: int, until_empty: bool, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: ingest runs in the database worker.")
        consumer = name or streams.default_consumer_name()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        conn = streams.client()
        handled = 0
        while not stop.is_set():
            try:
                got = streams.consume(
                    consumer=consumer,
                    conn=conn,
                    count=count,
                    block_ms=None if until_empty else 2000,
                )
            except KeyboardInterrupt:
                break
            handled += got
            if until_empty and got == 0:
                break
        self.stdout.write(f"{consumer}: {handled} stream entries handled")
