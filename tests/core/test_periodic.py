"""Periodic jobs run from the worker once per period, and a failing one does not stop it."""

import pytest
from django.core.cache import cache

from kith.core import worker


@pytest.fixture
def jobs():
    saved = dict(worker._jobs)
    worker._jobs.clear()
    cache.clear()
    yield worker._jobs
    worker._jobs.clear()
    worker._jobs.update(saved)


def test_a_job_runs_once_per_period(jobs):
    calls = []
    worker.periodic("test.tick", every_seconds=60)(lambda: calls.append(1))
    assert worker.run_due_jobs() == ["test.tick"]
    assert worker.run_due_jobs() == []  # same period: claimed already
    assert calls == [1]
    cache.delete("kith:periodic:test.tick")  # the period ends
    assert worker.run_due_jobs() == ["test.tick"]
    assert calls == [1, 1]


def test_a_failing_job_is_logged_and_the_others_still_run(jobs, caplog):
    def broken():
        raise RuntimeError("mailbox unreachable")

    calls = []
    worker.periodic("test.broken", every_seconds=60)(broken)
    worker.periodic("test.fine", every_seconds=60)(lambda: calls.append(1))
    assert worker.run_due_jobs() == ["test.fine"]
    assert calls == [1]
    assert "test.broken failed" in caplog.text


@pytest.mark.django_db
def test_the_worker_pass_runs_due_jobs(jobs):
    calls = []
    worker.periodic("test.pass", every_seconds=60)(lambda: calls.append(1))
    worker.run_once()
    assert calls == [1]
