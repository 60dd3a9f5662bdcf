"""The background worker: delivers outbox events and runs queued tasks.

``kith worker`` runs it as its own process (run several for throughput; leases keep
them from stepping on each other). ``kith serve`` also runs one in a thread in
embedded mode so a single command gives a working system, and next to it a child
process for the bulk task queue (``kith.core.bulk_worker``).

A worker has a role (``Role``): everything (the default), the *interactive* share
(events, periodic jobs, tasks of every queue but ``bulk``) or the *bulk* share (tasks
of the ``bulk`` queue and periodic jobs registered with ``bulk=True``: imports, model
fits, identity scoring, long and CPU-bound, publishing nothing live).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.core.cache import cache
from django.db import close_old_connections

from kith.core import events
from kith.core.http_errors import database_unavailable

logger = logging.getLogger("kith.worker")
MAX_BACKOFF_SECONDS = 60.0
# Tasks that run long on the CPU and publish nothing live: imports, model training and
# fits. ``@task(queue_name=BULK_QUEUE)``; settings.TASK_QUEUES lists it.
BULK_QUEUE = "bulk"


class Role(StrEnum):
    """What share of the work a worker loop takes."""

    ALL = "all"
    # Events, periodic jobs and every task queue but the bulk ones: a bulk worker runs beside.
    INTERACTIVE = "interactive"
    # BULK_QUEUE's tasks and the bulk periodic jobs only.
    BULK = "bulk"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    func: Callable[[], object]
    # Run by the bulk share (long, CPU-bound, publishes nothing live), like BULK_QUEUE.
    bulk: bool = False


_jobs: dict[str, PeriodicJob] = {}


def periodic(
    name: str, *, every_seconds: int, bulk: bool = False
) -> Callable[[Callable], Callable]:
    """Run the decorated function about every ``every_seconds`` from the worker.

    Apps register their clocks (SLA breach checks, mailbox polling, digests) in their
    ``AppConfig.ready``. The function must be idempotent: it runs at most once a period
    across all workers in the normal case, but twice after a race is harmless by design.
    ``bulk``: a long CPU-bound job that publishes nothing live, run by a bulk worker
    where one runs (``Role``).
    """

    def register(func: Callable) -> Callable:
        _jobs[name] = PeriodicJob(name, every_seconds, func, bulk)
        return func

    return register


def periodic_jobs() -> dict[str, PeriodicJob]:
    return dict(_jobs)


_warm_ups: dict[str, tuple[Callable[[], object], bool]] = {}


def _takes(role: Role, bulk: bool) -> bool:
    """Whether a worker of ``role`` runs a job or warm-up registered with ``bulk``."""
    return role is Role.ALL or bulk == (role is Role.BULK)


def warm_up(name: str, *, bulk: bool = False) -> Callable[[Callable], Callable]:
    """Run the decorated function once when a worker loop starts, before its first pass.

    For what a long-lived worker would otherwise load at its first job of a kind (a
    trained model and the libraries that score with it), so that cost falls on start-up
    rather than on the first operation that needs it. ``bulk`` as for :func:`periodic`.
    A failure is logged and the worker starts all the same: the job loads it later.
    """

    def register(func: Callable) -> Callable:
        _warm_ups[name] = (func, bulk)
        return func

    return register


def run_warm_ups(role: Role) -> list[str]:
    """Run the warm-ups of ``role``'s share; returns the names of those that ran."""
    ran = []
    for name, (func, bulk) in _warm_ups.items():
        if not _takes(role, bulk):
            continue
        try:
            func()
            ran.append(name)
        except Exception:
            logger.warning("warm-up %s failed; its work loads it when it runs", name, exc_info=True)
    return ran


def run_due_jobs() -> list[str]:
    """Run each periodic job whose period has not been claimed yet; returns those run.

    The claim is a cache key that lives one period: the shared cache (database or Redis)
    makes one worker among many take it.
    """
    return _run_jobs(list(_jobs.values()))


def _run_jobs(jobs: list[PeriodicJob], clock: _Clock | None = None) -> list[str]:
    ran = []
    for job in jobs:
        key = f"kith:periodic:{job.name}"
        if not cache.add(key, time.time(), timeout=job.every_seconds):
            if clock is not None:
                # Another worker holds this period: ask again when its claim runs out.
                claimed_at = cache.get(key)
                start = claimed_at if isinstance(claimed_at, (int, float)) else time.time()
                clock.job_due[job.name] = max(start + job.every_seconds, time.time() + 1.0)
            continue
        if clock is not None:
            clock.job_due[job.name] = time.time() + job.every_seconds
        try:
            job.func()
            ran.append(job.name)
        except Exception:
            logger.exception("periodic job %s failed; it runs again next period", job.name)
    return ran


def yield_to_events(*, max_batches: int = 10) -> int:
    """Deliver the events waiting now, from inside a periodic job between its chunks;
    returns how many were delivered.

    The worker runs its periodic jobs and event delivery in one thread: a job working
    through a long backlog (identity scoring after a large import) held every mention
    and notification back until it finished. Outside ``run_forever`` (tests, ``kith
    worker --once``) it does nothing: those callers deliver for themselves; nor in a
    bulk worker, which delivers no events.
    """
    clock = getattr(_loop, "clock", None)
    if clock is None or clock.role is Role.BULK:
        return 0
    delivered = 0
    # Until none is left: a pass takes a bounded share of a bulk backlog
    # (KITH_OUTBOX_BULK_ITEMS_PER_PASS), often a single import chunk's row.
    for _ in range(max_batches):
        count = events.deliver_pending(limit=BATCH)
        delivered += count
        if not count:
            break
    return delivered


def database_tasks() -> bool:
    """Whether tasks wait in the database for a worker (not run at once, as in tests)."""
    from django.conf import settings

    return settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"


def run_tasks_batch(max_tasks: int = 20, *, role: Role = Role.ALL) -> None:
    """Run up to ``max_tasks`` ready tasks of ``role``'s queues, then return."""
    if not database_tasks():
        return
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=[BULK_QUEUE] if role is Role.BULK else ["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        # Stored on the task's result (worker_ids): which process and share ran it.
        worker_id=f"kith-{role.value}-{os.getpid()}-{threading.get_ident()}",
        excluded_queue_names=[BULK_QUEUE] if role is Role.INTERACTIVE else [],
    ).run()


def waiting_tasks() -> dict[str, int]:
    """Tasks ready to run, per queue (``settings.TASK_QUEUES``); empty without the
    database task backend (tests run tasks at once)."""
    from django.conf import settings
    from django.db.models import Count

    if not database_tasks():
        return {}
    from django_tasks_db.models import DBTaskResult

    counts = dict.fromkeys(settings.TASK_QUEUES, 0)
    ready = DBTaskResult.objects.ready().order_by().values_list("queue_name")
    for queue, count in ready.annotate(count=Count("id")):
        counts[queue] = count
    return counts


BATCH = 200  # outbox rows claimed per pass
# After a wake-up the worker waits this long for more events, so a steady stream of
# creates is delivered a few dozen at a time (one pass, a few statements) rather than
# one pass per event. Worker-only subscribers are effects nobody waits for on the next
# page; inline ones ran in the request already.
COALESCE_SECONDS = 0.1


class _Clock:
    """What the worker loop of ``run_forever`` has due, so an idle pass asks nothing.

    * The outbox: read when an event committed in this process signals it
      (``events.arrived``), and at least once every ``interval`` for the events other
      processes write (``kith import``, a second server).
    * The task queue: read when a task is enqueued in this process, and once every
      ``interval`` otherwise.
    * Each periodic job: claimed when its period has run out by this worker's own
      record (its claim, or another worker's claim read from the cache), not on every
      pass: the claims are database queries with the database cache.
    """

    def __init__(self, interval: float, role: Role = Role.ALL) -> None:
        self.interval = interval
        self.role = role
        self.poll_at = 0.0  # time.monotonic() of the next outbox and task poll
        self.job_due: dict[str, float] = {}  # job name -> time.time() it may be due

    def seconds_to_next(self) -> float:
        return max(self.poll_at - time.monotonic(), 0.0)


_loop = threading.local()
_tasks_enqueued = threading.Event()


def _on_task_enqueued(**kwargs: object) -> None:
    # Before the commit, like events.arrived(): the worker gathers for COALESCE_SECONDS
    # first, and a task row not yet visible then is found by the next periodic poll.
    _tasks_enqueued.set()
    events.arrived().set()  # what the idle worker waits on


def _connect_task_signal() -> None:
    from django_tasks.signals import task_enqueued

    task_enqueued.connect(_on_task_enqueued, dispatch_uid="kith.worker.task_enqueued")


def wake_for_tasks() -> None:
    """Tell this process's worker loop that a task may be waiting (another process
    enqueued it: ``kith.core.bulk_worker`` forwards the signal)."""
    _tasks_enqueued.set()


def run_once() -> int:
    """One pass: deliver a batch of events and run a batch of tasks. Returns events delivered.

    Called directly (``kith worker --once``, tests) it does everything. Inside
    ``run_forever`` it does only what is due by the loop's ``_Clock``, and only its
    role's share: with nothing signalled and nothing due it sends no query.
    """
    clock: _Clock | None = getattr(_loop, "clock", None)
    if clock is None:
        delivered = events.deliver_pending(limit=BATCH)
        run_tasks_batch()
        run_due_jobs()
        return delivered
    now = time.monotonic()
    poll = now >= clock.poll_at
    tasks = _tasks_enqueued.is_set()
    _tasks_enqueued.clear()
    delivered = 0
    # Events are not a bulk worker's: its own are forwarded to the server's worker by
    # kith.core.bulk_worker.
    if clock.role is not Role.BULK:
        signalled = events.arrived().is_set()
        events.arrived().clear()
        delivered = events.deliver_pending(limit=BATCH) if poll or signalled else 0
    if poll or tasks:
        run_tasks_batch(role=clock.role)
    _run_due(clock)
    if poll:
        clock.poll_at = now + clock.interval
    return delivered


def _run_due(clock: _Clock) -> None:
    """Run the role's periodic jobs whose time has come by the clock."""
    wall = time.time()
    due = [
        job
        for job in list(_jobs.values())
        if clock.job_due.get(job.name, 0.0) <= wall and _takes(clock.role, job.bulk)
    ]
    if due:
        _run_jobs(due, clock)


def run_forever(
    *, interval: float = 1.0, stop: threading.Event | None = None, role: Role = Role.ALL
) -> None:
    """Deliver events, run tasks and periodic jobs (``role``'s share) until ``stop`` is set.

    Events committed in this process wake it at once (then it gathers for
    ``COALESCE_SECONDS``); otherwise it polls every ``interval`` seconds, which is how
    another process's events and tasks are picked up.
    """
    stop = stop or threading.Event()
    logger.info("worker started (%s)", role.value)
    _connect_task_signal()
    run_warm_ups(role)
    clock = _Clock(interval, role)
    _loop.clock = clock
    try:
        _loop_until(stop, clock, interval)
    finally:
        _loop.clock = None
    logger.info("worker stopped")


def _loop_until(stop: threading.Event, clock: _Clock, interval: float) -> None:
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
        if delivered >= BATCH or events.last_claim_was_full():
            # A backlog (a full batch, or a bulk slice cut at its budget): the next
            # batch at once, polling the outbox although no new event signalled.
            clock.poll_at = 0.0
            continue
        # A bulk worker leaves events.arrived() to whoever forwards its events.
        wake = _tasks_enqueued if clock.role is Role.BULK else events.arrived()
        woke = wake.wait(clock.seconds_to_next()) or _tasks_enqueued.is_set()
        if woke and not stop.is_set():
            stop.wait(COALESCE_SECONDS)


def start_in_thread(interval: float = 1.0, *, role: Role = Role.ALL) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        kwargs={"interval": interval, "stop": stop, "role": role},
        daemon=True,
        name="kith-worker",
    )
    thread.start()
    time.sleep(0)
    return stop
