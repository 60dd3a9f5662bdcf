"""Race tests: real threads, each on its own database connection, released together.

Only PostgreSQL runs concurrent writers (SQLite serialises them), so a race test first
calls ``require_postgres`` (or uses the ``postgres_only`` fixture of tests/conftest.py)
and runs with ``django_db(transaction=True)``: the threads must see each other's commits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pytest
from django.db import close_old_connections, connection

T = TypeVar("T")

SKIP_ON_SQLITE = (
    "SKIPPED ON SQLITE: real concurrent writers need PostgreSQL (SQLite serialises "
    "writers); run with DATABASE_URL=postgres://…"
)


def require_postgres() -> None:
    """Skip the calling test unless it runs on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip(SKIP_ON_SQLITE)


def run_together(
    work: Callable[[Any], object],
    args: Iterable[T],
    *,
    prepare: Callable[[T], object] | None = None,
    timeout: float = 60,
) -> tuple[list, list[BaseException]]:
    """Call ``work`` once per item of ``args``, each in its own thread, all at once.

    Each thread first runs ``prepare(arg)`` (loading its own, soon stale, copy of a
    record, as a request would) and hands the result to ``work`` instead of ``arg``;
    then every thread waits at one barrier, so the calls really overlap. Answers the
    results and the exceptions raised (in completion order), for the caller to assert on:
    a thread that fails aborts the barrier, so the others never wait for it.
    """
    items = list(args)
    barrier = threading.Barrier(len(items))
    results: list = []
    errors: list[BaseException] = []

    def run(arg: T) -> None:
        try:
            subject = prepare(arg) if prepare is not None else arg
            barrier.wait(timeout=timeout)
            results.append(work(subject))
        except BaseException as exc:  # collected for the caller's assertions
            barrier.abort()
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    # This thread's connection goes back first: the threads may need the whole pool.
    connection.close()
    threads = [threading.Thread(target=run, args=(arg,)) for arg in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
