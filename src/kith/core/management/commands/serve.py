"""``kith serve``: the web UI and API under uvicorn, with an embedded worker thread
and, beside it, a bulk worker process for imports and model fits (``kith.core.bulk_worker``).

Stopping (Ctrl+C, SIGTERM) is bounded by ``KITH_SHUTDOWN_TIMEOUT`` seconds: uvicorn
stops accepting, waits that long for requests in flight, then cancels them. A request
that was running Django code in a thread of the WSGI pool cannot be cancelled from
the event loop, and Python joins those threads at exit, so such a request would still
hold the process; once uvicorn has returned, the process therefore ends itself when
threads other than daemons are still busy (their open transactions roll back).
"""

import logging
import os
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger("kith.serve")

# How long the threads still running after uvicorn returned get to finish by themselves.
THREAD_GRACE_SECONDS = 1.0
# DEBUG pages are for the developer's own machine only.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def busy_threads() -> list[threading.Thread]:
    """Threads other than this one that would keep the interpreter from exiting."""
    current = threading.current_thread()
    return [t for t in threading.enumerate() if t is not current and not t.daemon and t.is_alive()]


def exit_if_requests_stuck(grace: float = THREAD_GRACE_SECONDS) -> None:
    """End the process now when request threads outlived the graceful shutdown."""
    deadline = time.monotonic() + grace
    stuck = busy_threads()
    while stuck and time.monotonic() < deadline:
        time.sleep(0.05)
        stuck = busy_threads()
    if not stuck:
        return
    logger.warning(
        "%d request thread(s) still running after the shutdown timeout; exiting anyway",
        len(stuck),
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class Command(BaseCommand):
    help = "Serve Kith (web UI + API) with uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("KITH_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("KITH_PORT", "8000")))
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not run the embedded worker thread."
        )
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=settings.KITH_SHUTDOWN_TIMEOUT,
            help="seconds to wait for running requests when stopping "
            "(default: KITH_SHUTDOWN_TIMEOUT, 30)",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        no_worker: bool,
        workers: int,
        shutdown_timeout: float,
        **options,
    ):
        import uvicorn

        from kith.core import health

        # A missing, read-only or unmigrated database or a full disk: say so and stop,
        # rather than answer 500s and let the worker print tracebacks.
        health.check_or_stop("serve")
        if settings.DEBUG and host not in LOOPBACK_HOSTS:
            raise CommandError(
                f"DEBUG is on: serving on {host} would show every URL pattern and tracebacks "
                "to anyone who can reach it. Unset DEBUG, or serve on 127.0.0.1."
            )
        from kith.core import sqlite_checkpoint

        # Before the worker thread and the request threads open their connections, so
        # they leave SQLite's checkpoints to it; nothing on PostgreSQL.
        sqlite_checkpoint.start()
        stop_worker = None
        bulk = None
        if not no_worker:
            from kith.core import worker

            role = worker.Role.ALL
            if settings.KITH_BULK_WORKER_PROCESS:
                from kith.core.bulk_worker import BulkWorkerProcess

                bulk = BulkWorkerProcess()
                bulk.start()
                role = worker.Role.INTERACTIVE
            stop_worker = worker.start_in_thread(role=role)
        self.stdout.write(
            f"Kith is serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)"
        )
        db = settings.DATABASES["default"]
        self.stdout.write(f"Database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        if bulk is not None:
            self.stdout.write(f"Bulk worker (imports, model fits): process {bulk.pid}")
        try:
            uvicorn.run(
                "kith.asgi:application",
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                access_log=False,
                lifespan="off",
                # uvicorn would believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS);
                # Kith decides in one place, from KITH_TRUSTED_PROXIES (kith.core.proxies).
                proxy_headers=False,
                # uvicorn takes whole seconds here; never 0, which would cut every request.
                timeout_graceful_shutdown=max(1, round(shutdown_timeout)),
            )
        finally:
            if bulk is not None:
                bulk.stop()
        if stop_worker is not None:
            stop_worker.set()
        exit_if_requests_stuck()
