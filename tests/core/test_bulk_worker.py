"""The bulk task queue and ``kith serve``'s bulk worker process.

Imports and model fits run on the ``bulk`` queue; a worker's role decides which queues
it takes. ``BulkWorkerProcess`` starts, wakes, restarts and stops its child (here a
small stand-in script, so the supervision is tested without a database); the real
child under ``kith serve`` is tested in tests/test_cli.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from django.db import transaction
from django_tasks import task

from kith.core import events, worker
from kith.core.bulk_worker import BulkWorkerProcess

ran: list[str] = []


@task(queue_name=worker.BULK_QUEUE)
def bulk_probe() -> None:
    ran.append("bulk")


@task()
def default_probe() -> None:
    ran.append("default")


def test_long_cpu_bound_tasks_are_on_the_bulk_queue_and_short_ones_are_not():
    from kith.collab.tasks import deliver_post
    from kith.insights.tasks import compute_influence_task
    from kith.insights.tasks_value import compute_value_task
    from kith.mail.tasks import deliver_email
    from kith.people.identity.tasks import train_identity_task
    from kith.people.tasks import run_import

    bulk = [run_import, train_identity_task, compute_value_task, compute_influence_task]
    assert {t.queue_name for t in bulk} == {worker.BULK_QUEUE}
    # These publish live updates through the server's in-process broker.
    assert {t.queue_name for t in (deliver_post, deliver_email)} == {"default"}


@pytest.fixture
def database_tasks(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    ran.clear()
    yield
    ran.clear()


@pytest.mark.django_db(transaction=True)
def test_each_role_runs_its_own_queues(database_tasks):
    bulk_probe.enqueue()
    default_probe.enqueue()
    worker.run_tasks_batch(role=worker.Role.INTERACTIVE)
    assert ran == ["default"]
    worker.run_tasks_batch(role=worker.Role.INTERACTIVE)
    assert ran == ["default"]  # the bulk task waits for the bulk worker
    worker.run_tasks_batch(role=worker.Role.BULK)
    assert ran == ["default", "bulk"]

    default_probe.enqueue()
    worker.run_tasks_batch(role=worker.Role.BULK)
    assert ran == ["default", "bulk"]
    worker.run_tasks_batch(role=worker.Role.ALL)
    assert ran == ["default", "bulk", "default"]


@pytest.fixture
def probe_jobs():
    """Only two periodic jobs, one bulk, each noting its runs in ``ran``."""
    saved = dict(worker._jobs)
    worker._jobs.clear()
    worker.periodic("test.bulk_job", every_seconds=60, bulk=True)(lambda: ran.append("bulk job"))
    worker.periodic("test.job", every_seconds=60)(lambda: ran.append("job"))
    yield
    worker._jobs.clear()
    worker._jobs.update(saved)


def _pass(role: worker.Role) -> int:
    """One ``run_forever`` pass of ``role`` with everything due."""
    clock = worker._Clock(interval=1.0, role=role)
    clock.poll_at = 0.0
    worker._loop.clock = clock
    try:
        return worker.run_once()
    finally:
        worker._loop.clock = None


@pytest.mark.django_db(transaction=True)
def test_a_bulk_pass_delivers_no_events_and_runs_only_bulk_jobs(database_tasks, probe_jobs, alice):
    from kith.core.models import OutboxEvent
    from tests.conftest import make_person

    make_person(alice)
    bulk_probe.enqueue()
    assert _pass(worker.Role.BULK) == 0
    assert sorted(ran) == ["bulk", "bulk job"]
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()
    worker._loop.clock = worker._Clock(interval=1.0, role=worker.Role.BULK)
    try:
        assert worker.yield_to_events() == 0  # a bulk job does not deliver between chunks
    finally:
        worker._loop.clock = None

    from django.core.cache import cache

    cache.clear()  # the jobs' claims for this period
    ran.clear()
    assert _pass(worker.Role.INTERACTIVE) > 0
    assert ran == ["job"]
    assert not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()


def test_identity_scoring_and_the_daily_reindex_are_bulk_jobs():
    jobs = worker.periodic_jobs()
    assert jobs["people.identity_score_new"].bulk and jobs["people.reindex"].bulk
    assert not jobs["service.check_breaches"].bulk  # notifies: stays with the server


# A stand-in child: each byte on stdin is answered with one on stdout (as the real
# child signals an event), "x" ends it with status 3, "h" makes it ignore SIGTERM.
ECHO_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    while True:
        data = os.read(0, 1)
        if not data or data == b"x":
            sys.exit(3)
        if data == b"h":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(1, b"e")
    """
)


@pytest.fixture
def supervisor():
    process = BulkWorkerProcess([sys.executable, "-c", ECHO_CHILD], first_pause=0.05)
    process.start()
    yield process
    process.stop(timeout=2)


def _until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_wake_reaches_the_child_and_its_event_signal_wakes_this_worker(supervisor):
    events.arrived().clear()
    supervisor.wake()
    assert _until(events.arrived().is_set)
    events.arrived().clear()


def test_a_child_that_dies_is_started_again(supervisor):
    first = supervisor.pid
    assert first is not None
    supervisor._process.stdin.write(b"x")
    assert _until(lambda: supervisor.starts == 2 and supervisor.pid not in (None, first))
    events.arrived().clear()
    supervisor.wake()  # the new child is connected
    assert _until(events.arrived().is_set)


def test_stop_ends_the_child_and_kills_one_that_ignores_sigterm(supervisor):
    events.arrived().clear()
    supervisor._process.stdin.write(b"h")
    assert _until(events.arrived().is_set)  # it has read the "h"
    child = supervisor._process
    started = time.monotonic()
    supervisor.stop(timeout=0.5)
    assert child.poll() is not None and time.monotonic() - started < 5
    time.sleep(0.2)
    assert supervisor.starts == 1  # a stopped child is not started again


@pytest.mark.django_db(transaction=True)
def test_enqueuing_a_bulk_task_wakes_the_child_after_the_commit(settings, supervisor):
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    events.arrived().clear()
    with transaction.atomic():
        default_probe.enqueue()
        bulk_probe.enqueue()
        time.sleep(0.3)
        assert not events.arrived().is_set()  # not woken before the commit
    assert _until(events.arrived().is_set)
    events.arrived().clear()
    default_probe.enqueue()
    time.sleep(0.3)
    assert not events.arrived().is_set()  # a default-queue task is not the child's


def test_the_real_child_refuses_supervision_outside_the_bulk_role(tmp_path):
    from tests.test_cli import KITH, _env

    out = subprocess.run(
        [KITH, "worker", "--supervised"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert out.returncode != 0 and "--role bulk" in out.stderr
