"""The background worker: delivers outbox events and runs queued tasks.

``kith worker`` runs it as its own process (run several for throughput; leases keep
them from stepping on each other). ``kith serve`` also runs one in a thread in
embedded mode so a single command gives a working system.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

from kith.core import events

logger = logging.getLogger("kith.worker")


def run_tasks_batch(max_tasks: int = 20) -> None:
    """Run up to ``max_tasks`` ready tasks from the database task queue, then return."""
    from django.conf import settings

    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=f"kith-{threading.get_ident()}",
        excluded_queue_names=[],
    ).run()


def run_once() -> int:
    """One pass: deliver a batch of events and run a batch of tasks. Returns events delivered."""
    delivered = events.deliver_pending(limit=200)
    run_tasks_batch()
    return delivered


def run_forever(*, interval: float = 1.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    logger.info("worker started")
    while not stop.is_set():
        # Like a request: drop connections the database closed or that grew too old.
        close_old_connections()
        try:
            delivered = run_once()
        except Exception:
            # A broken database connection or a bug in one subscriber must not kill the
            # worker: log, back off, and try again.
            logger.exception("worker pass failed")
            delivered = 0
        if not delivered:
            stop.wait(interval)
    logger.info("worker stopped")


def start_in_thread(interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        kwargs={"interval": interval, "stop": stop},
        daemon=True,
        name="kith-worker",
    )
    thread.start()
    time.sleep(0)
    return stop
