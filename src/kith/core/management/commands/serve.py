"""``kith serve``: the web UI and API under uvicorn, with an embedded worker thread."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Kith (web UI + API) with uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("KITH_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("KITH_PORT", "8000")))
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not run the embedded worker thread."
        )
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")

    def handle(self, *args, host: str, port: int, no_worker: bool, workers: int, **options):
        import uvicorn

        if not no_worker:
            from kith.core.worker import start_in_thread

            start_in_thread()
        self.stdout.write(
            f"Kith is serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)"
        )
        db = settings.DATABASES["default"]
        self.stdout.write(f"Database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        uvicorn.run(
            "kith.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
