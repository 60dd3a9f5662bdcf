"""The threads of a process queue for SQLite write transactions instead of sleeping
in SQLite's busy handler (kith.core.backends.sqlite3)."""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from kith.core.backends.sqlite3.base import write_lock

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's write queue; PostgreSQL has row locks"
)


def test_the_served_sqlite_database_uses_the_queueing_backend():
    assert connection.settings_dict["ENGINE"] == "kith.core.backends.sqlite3"


@pytest.mark.django_db(transaction=True)
def test_a_write_transaction_holds_the_process_lock_until_commit_or_rollback():
    lock = write_lock(connection.settings_dict["NAME"])
    assert not lock.locked()
    with transaction.atomic():
        assert lock.locked()
        with transaction.atomic():  # a savepoint: no second acquire
            assert lock.locked()
    assert not lock.locked()

    with pytest.raises(RuntimeError), transaction.atomic():
        assert lock.locked()
        raise RuntimeError("rolled back")
    assert not lock.locked()


@pytest.mark.django_db(transaction=True)
def test_a_waiting_thread_starts_as_soon_as_the_holder_commits(settings):
    """Without the queue the waiter slept in SQLite's busy handler (1, 2, 5, 10 ms ...)
    past the holder's commit; with it, it starts as the lock is given back."""
    from kith.people.models import Tag

    holding = threading.Event()
    started_at: list[float] = []
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            holding.wait(5)
            with transaction.atomic():
                started_at.append(time.perf_counter())
                Tag.objects.create(name="second")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=waiter)
    thread.start()
    with transaction.atomic():
        Tag.objects.create(name="first")
        holding.set()
        time.sleep(0.15)  # the waiter is queued meanwhile
        committed_at = time.perf_counter()
    thread.join(10)

    assert not errors, errors
    assert started_at and started_at[0] >= committed_at
    assert started_at[0] - committed_at < 0.05
    assert set(Tag.objects.values_list("name", flat=True)) >= {"first", "second"}


@pytest.mark.django_db(transaction=True)
def test_a_wait_past_the_timeout_is_the_usual_locked_error(monkeypatch):
    lock = write_lock(connection.settings_dict["NAME"])
    options = dict(connection.settings_dict.get("OPTIONS", {}), timeout=0.1)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    assert lock.acquire(timeout=1)  # as another thread in a long transaction would
    try:
        with pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
            pass
        assert not connection.in_atomic_block
    finally:
        lock.release()
    with transaction.atomic():  # and the connection works once the lock is free
        assert lock.locked()
    assert not lock.locked()
