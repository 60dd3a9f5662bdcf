"""The background worker: delivers outbox events and runs queued tasks.

``kith worker`` runs it as its own process (run several for throughput; leases keep
them from stepping on each other). ``kith serve`` also runs one in a thread in
embedded mode so a single command gives a working system.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import close_old_connections

from kith.core import events
from kith.core.http_errors import database_unavailable

logger = logging.getLogger("kith.worker")
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    func: Callable[[], object]


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every_seconds: int) -> Callable[[Callable], Callable]:
    """Run the decorated function about every ``every_seconds`` from the worker.

    Apps register their clocks (SLA breach checks, mailbox polling, digests) in their
    ``AppConfig.ready``. The function must be idempotent: it runs at most once a period
    across all workers in the normal case, but twice after a race is harmless by design.
    """

    def register(func: Callable) -> Callable:
        _jobs[name] = PeriodicJob(name, every_seconds, func)
        return func

    return register


def periodic_jobs() -> dict[str, PeriodicJob]:
    return dict(_jobs)


def run_due_jobs() -> list[str]:
    """Run each periodic job whose period has not been claimed yet; returns those run.

    The claim is a cache key that lives one period: the shared cache (database or Redis)
    makes one worker among many take it.
    """
    ran = []
    for job in list(_jobs.values()):
        if not cache.add(f"kith:periodic:{job.name}", time.time(), timeout=job.every_seconds):
            continue
        try:
            job.func()
            ran.append(job.name)
        except Exception:
            logger.exception("periodic job %s failed; it runs again next period", job.name)
    return ran


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
    run_due_jobs()
    return delivered


def run_forever(*, interval: float = 1.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    logger.info("worker started")
    failures = 0
    while not stop.is_set():
        # Like a request: drop connections the database closed or that grew too old.
        close_old_connections()
        try:
            delivered = run_once()
        except Exception as exc:
            # A sick database or a bug in one subscriber must not kill the worker, nor
            # fill the log with a traceback a second: back off (doubling, up to a
            # minute) and, while the database is unavailable, log one line now and then.
            failures += 1
            wait = min(interval * 2 ** min(failures - 1, 10), MAX_BACKOFF_SECONDS)
            if database_unavailable(exc):
                if failures == 1 or failures % 10 == 0:
                    logger.error(
                        "database unavailable (%s); retrying in %.0f s (%d failed passes)",
                        exc,
                        wait,
                        failures,
                    )
            else:
                logger.exception("worker pass failed; retrying in %.0f s", wait)
            stop.wait(wait)
            continue
        if failures:
            logger.warning("worker running again after %d failed passes", failures)
            failures = 0
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
