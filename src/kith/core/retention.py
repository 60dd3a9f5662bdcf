"""How long Kith keeps its plumbing rows, and the job that deletes them afterwards.

These rows pile up with use and are never read again once their work is done:

* **Delivered outbox events** (``OutboxEvent`` in status ``done``, with their
  ``EventDelivery`` rows). They exist so that an event is delivered at least once;
  after delivery they only help an operator see what happened lately. Kept
  ``KITH_OUTBOX_KEEP_DAYS`` (7). Failed events are dead letters waiting for a person
  and are never deleted here; pending ones are the work itself.
* **Idempotency keys** (``IdempotencyRecord``). A retry with the same key answers the
  stored response for ``KITH_IDEMPOTENCY_KEEP_HOURS`` (24), the window clients are
  told to retry in; afterwards the key is free again. The stored response holds the
  created record's fields (a person's name and e-mail), so keeping it longer would
  also keep a copy of personal data outside the record.
* **Finished background tasks** (django-tasks' ``DBTaskResult``): successful ones
  for ``KITH_TASK_RESULTS_KEEP_DAYS`` (7), failed ones four times as long, so their
  tracebacks outlive a holiday.
* **Expired sign-in sessions**: Django never deletes them by itself (its
  ``clearsessions`` is left to a cron job nobody sets up).

Without this, a busy installation's outbox grows by a row and several delivery rows
per create forever. :func:`prune` deletes in small batches, one short transaction
each (SQLite's single writer is never held long), within a time budget per run; the
worker runs it every minute (``kith.core.apps``), and ``kith prune`` runs it
at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from kith.core.models import EventDelivery, IdempotencyRecord, OutboxEvent

# Rows per transaction: on SQLite a batch holds the single writer ~35 ms (benchmarks/retention.py).
BATCH = 500


@dataclass
class Pruned:
    """What one :func:`prune` deleted, per kind, and whether rows past their time remain."""

    events: int = 0
    deliveries: int = 0
    idempotency_keys: int = 0
    task_results: int = 0
    sessions: int = 0
    more: list[str] = field(default_factory=list)  # kinds cut short by the time budget

    def counts(self) -> dict[str, int]:
        """The rows deleted, per kind (every field but ``more``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "more"}

    @property
    def total(self) -> int:
        return sum(self.counts().values())


def prune(*, budget_seconds: float | None = 2.0, now: datetime | None = None) -> Pruned:
    """Delete the rows past their retention, oldest first, for at most ``budget_seconds``
    (None: until none is left). Each batch commits on its own, so an interrupted run
    loses nothing and the next one goes on where it stopped."""
    now = now or timezone.now()
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    result = Pruned()
    steps = [
        ("events", _delivered_events(now - timedelta(days=settings.KITH_OUTBOX_KEEP_DAYS))),
        (
            "idempotency_keys",
            _idempotency_keys(now - timedelta(hours=settings.KITH_IDEMPOTENCY_KEEP_HOURS)),
        ),
        ("task_results", _task_results(now)),
        ("sessions", _expired_sessions(now)),
    ]
    for kind, batches in steps:
        for deleted in batches:
            for name, count in deleted.items():
                setattr(result, name, getattr(result, name) + count)
            if deadline is not None and time.monotonic() >= deadline:
                result.more.append(kind)
                break
    return result


def _delete_ids(model: type[models.Model], field_name: str, ids: list) -> int:
    """One plain ``DELETE … WHERE field IN (ids)``: the ORM's delete would first load
    every row (and, for events, look for the deliveries we delete just before)."""
    matched = model._meta.get_field(field_name)
    quote = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
            f"WHERE {quote(matched.column)} IN ({marks})",
            [matched.get_db_prep_value(value, connection) for value in ids],
        )
        return cursor.rowcount


def _batches(ids: QuerySet, deletes: list[tuple[type[models.Model], str, str]]):
    """Take up to ``BATCH`` ids of ``ids`` and delete them with ``deletes`` (model, the
    field the ids are matched on, the count's name), one transaction per batch, until
    none is left; yields each batch's counts."""
    while True:
        with transaction.atomic():
            chunk = list(ids[:BATCH])
            if not chunk:
                return
            counts = {name: _delete_ids(model, key, chunk) for model, key, name in deletes}
        yield counts


def _delivered_events(cutoff: datetime):
    """Delivered events that became available before ``cutoff``, with their deliveries.

    ``available_at`` rather than ``processed_at`` because the outbox's index
    ``(status, available_at, id)`` answers it; an event is processed after it became
    available, so none younger than the retention goes."""
    ids = (
        OutboxEvent.objects.filter(status=OutboxEvent.Status.DONE, available_at__lt=cutoff)
        .order_by("status", "available_at", "id")
        .values_list("id", flat=True)
    )
    # The deliveries first: they point at the events.
    yield from _batches(
        ids, [(EventDelivery, "event", "deliveries"), (OutboxEvent, "id", "events")]
    )


def _idempotency_keys(cutoff: datetime):
    ids = (
        IdempotencyRecord.objects.filter(created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("id", flat=True)
    )
    yield from _batches(ids, [(IdempotencyRecord, "id", "idempotency_keys")])


def _task_results(now: datetime):
    """Finished task results; none while tasks run in-process (no task table is used)."""
    from kith.core.worker import database_tasks

    if not database_tasks():
        return
    from django.db.models import Q
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    keep = timedelta(days=settings.KITH_TASK_RESULTS_KEEP_DAYS)
    finished = Q(status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - keep) | Q(
        status=TaskResultStatus.FAILED, finished_at__lt=now - 4 * keep
    )
    ids = DBTaskResult.objects.filter(finished).order_by().values_list("id", flat=True)
    yield from _batches(ids, [(DBTaskResult, "id", "task_results")])


def _expired_sessions(now: datetime):
    """Expired rows of Django's database sessions (none with another session engine)."""
    if settings.SESSION_ENGINE not in {
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    }:
        return
    from django.contrib.sessions.models import Session

    keys = (
        Session.objects.filter(expire_date__lt=now).order_by().values_list("session_key", flat=True)
    )
    yield from _batches(keys, [(Session, "session_key", "sessions")])
