"""Domain events through a transactional outbox.

``emit`` writes an ``OutboxEvent`` in the caller's transaction, so an event exists if
and only if its change committed. Subscribers register with ``@subscriber``. Delivery
(``deliver_pending``) claims events with a lease, runs each subscriber that has not
yet handled the event inside its own transaction together with the ``EventDelivery``
row that marks it done, and so survives a worker dying at any point: an expired lease
lets another worker claim the event again, and subscribers already recorded are
skipped. Delivery is at least once for side effects outside the database.

After commit, events are also delivered in-process (``KITH_DELIVER_EVENTS_ON_COMMIT``)
so the UI shows their effects at once; the worker catches up on whatever that missed.

**Bulk work.** Events emitted inside ``deferred_delivery()`` (imports, demo data) go to
the ``bulk`` lane; the worker claims ``interactive`` events first and only a bounded
slice of bulk work per pass (``KITH_OUTBOX_BULK_ITEMS_PER_PASS``), so a mention is
delivered within one slice while a 100,000-row backlog drains. A bulk writer emits one
*batch* per chunk with ``emit_batch``: one outbox row standing for one event per item.
A subscriber may register a set-wise handler for batches (``batch_handler``), called
once with every item; a subscriber without one still gets each item as an ordinary
event (a stand-in ``OutboxEvent`` with that item's object and data), so every
subscriber sees every logical event whichever way it was written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from kith.core.audit import jsonable
from kith.core.context import channel
from kith.core.models import EventDelivery, OutboxEvent
from kith.core.prepared import insert_one

logger = logging.getLogger("kith.events")

MAX_ATTEMPTS = 10
INTERACTIVE = OutboxEvent.Lane.INTERACTIVE
BULK = OutboxEvent.Lane.BULK
Handler = Callable[[OutboxEvent], None]
# (the batch row, one stand-in event per item) -> None
BatchHandler = Callable[[OutboxEvent, list[OutboxEvent]], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    events: frozenset[str]  # "*" matches every event
    handler: Handler
    # Inline subscribers also run right after the commit, inside the request, because the
    # user expects to see their effect on the next page; the others wait for the worker.
    inline: bool = True
    # Handles a whole batch at once (set-based SQL); without it each item goes to handler.
    batch: BatchHandler | None = None

    def wants(self, event_name: str) -> bool:
        return "*" in self.events or event_name in self.events


_subscriptions: dict[str, Subscription] = {}
_local = threading.local()
# Set by every event some subscriber wants: the worker thread of this process waits on
# it instead of polling the table (``arrived``).
_arrived = threading.Event()


def arrived() -> threading.Event:
    """The in-process signal that an event emitted here awaits delivery.

    Set at ``emit``, before the commit (an on-commit hook would cost every request a
    callback): the worker waits ``worker.COALESCE_SECONDS`` before it reads the outbox,
    by when a request's transaction has committed, and an event still invisible then
    is found by the next periodic poll. Only this process's events set it; a worker must
    still poll now and then for those that other processes write.
    """
    return _arrived


def subscriber(
    *event_names: str, name: str | None = None, inline: bool = True
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the given event names under a stable subscriber name.

    ``inline=False`` leaves the handler to the worker alone, keeping its cost out of the
    request that caused the event (for effects nobody waits for on the next page).
    """

    def register(handler: Handler) -> Handler:
        key = name or f"{handler.__module__}.{handler.__qualname__}"
        _subscriptions[key] = Subscription(key, frozenset(event_names), handler, inline)
        return handler

    return register


def subscriptions() -> dict[str, Subscription]:
    return dict(_subscriptions)


def batch_handler(subscriber_name: str) -> Callable[[BatchHandler], BatchHandler]:
    """Give the registered subscriber ``subscriber_name`` a set-wise handler for batches.

    ``handler(batch, items)`` gets the batch row and one stand-in event per item, and
    must do what the per-event handler would do for each of them (idempotently: a batch
    can be delivered twice after a crash), in a few set-based queries.
    """

    def register(handler: BatchHandler) -> BatchHandler:
        sub = _subscriptions[subscriber_name]
        _subscriptions[subscriber_name] = dataclasses.replace(sub, batch=handler)
        return handler

    return register


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "pk", None) if getattr(actor, "is_authenticated", False) else None


def _deferred() -> bool:
    return getattr(_local, "deferred", False)


def emit(
    name: str,
    *,
    obj: Any,
    actor: Any = None,
    data: dict | None = None,
    lane: str | None = None,
) -> OutboxEvent:
    """Queue the domain event ``name`` (``object.action``) about ``obj`` in this transaction.

    ``lane`` defaults to ``bulk`` inside ``deferred_delivery()`` and ``interactive``
    elsewhere.
    """
    now = timezone.now()
    # An event nobody subscribes to is still recorded (the outbox is the event log), but
    # born delivered: claiming and settling it would cost three queries for nothing.
    wanting = [sub for sub in _subscriptions.values() if sub.wants(name)]
    wanted = bool(wanting)
    # Every write of every service passes here: one prepared INSERT (kith.core.prepared)
    # instead of building the ORM's statement for each event.
    event = insert_one(
        OutboxEvent(
            name=name,
            occurred_at=now,
            available_at=now,
            actor_id=_actor_id(actor),
            object_type=obj._meta.label_lower,
            object_id=obj.pk,
            object_public_id=getattr(obj, "public_id", None),
            data=jsonable(data or {}),
            status=OutboxEvent.Status.PENDING if wanted else OutboxEvent.Status.DONE,
            processed_at=None if wanted else now,
            lane=lane or (BULK if _deferred() else INTERACTIVE),
        )
    )
    if (
        any(sub.inline for sub in wanting)
        and settings.KITH_DELIVER_EVENTS_ON_COMMIT
        and not _deferred()
    ):
        transaction.on_commit(lambda: _deliver_after_commit(event.pk, inline_only=True))
    if wanted:
        _arrived.set()
    return event


@dataclass(frozen=True)
class BatchItem:
    """One event of a batch: the object it is about and its own data."""

    object_id: int
    object_public_id: uuid.UUID | None = None
    data: dict | None = None


def emit_batch(
    name: str,
    *,
    object_type: str,
    items: Iterable[BatchItem],
    actor: Any = None,
    data: dict | None = None,
    lane: str = BULK,
) -> OutboxEvent | None:
    """Queue one outbox row standing for the event ``name`` about each of ``items``.

    ``object_type`` is the items' model label (``"people.party"``); ``data`` is shared
    by every item and merged under each item's own data. Written in the caller's
    transaction like ``emit``; delivered by the worker only (never inline). None when
    ``items`` is empty.
    """
    rows = [
        {
            "id": item.object_id,
            "public_id": str(item.object_public_id) if item.object_public_id else None,
            "data": item.data or {},
        }
        for item in items
    ]
    if not rows:
        return None
    now = timezone.now()
    wanted = any(sub.wants(name) for sub in _subscriptions.values())
    if wanted:
        _arrived.set()
    return insert_one(
        OutboxEvent(
            name=name,
            occurred_at=now,
            available_at=now,
            actor_id=_actor_id(actor),
            object_type=object_type,
            object_id=rows[0]["id"],
            object_public_id=None,
            data=jsonable({"shared": data or {}, "items": rows}),
            status=OutboxEvent.Status.PENDING if wanted else OutboxEvent.Status.DONE,
            processed_at=None if wanted else now,
            lane=lane,
            batch_size=len(rows),
        )
    )


def batch_items(batch: OutboxEvent) -> list[OutboxEvent]:
    """The events a batch row stands for, as unsaved ``OutboxEvent`` stand-ins.

    Each has the item's object and the shared data updated with the item's own; its
    ``public_id`` is derived from the batch's and the item's position, so a handler that
    keys idempotency on ``event.public_id`` writes the same key on a redelivery.
    """
    if not batch.batch_size:
        return [batch]
    shared = (batch.data or {}).get("shared") or {}
    out = []
    for index, item in enumerate((batch.data or {}).get("items") or []):
        public_id = item.get("public_id")
        out.append(
            OutboxEvent(
                public_id=uuid.uuid5(batch.public_id, str(index)),
                name=batch.name,
                occurred_at=batch.occurred_at,
                actor_id=batch.actor_id,
                object_type=batch.object_type,
                object_id=item["id"],
                object_public_id=uuid.UUID(public_id) if public_id else None,
                data={**shared, **(item.get("data") or {})},
                status=batch.status,
                attempts=batch.attempts,
                available_at=batch.available_at,
                lane=batch.lane,
            )
        )
    return out


@contextlib.contextmanager
def deferred_delivery() -> Iterator[None]:
    """Leave events emitted inside the block to the worker, in the bulk lane (bulk
    imports, demo data)."""
    previous = getattr(_local, "deferred", False)
    _local.deferred = True
    try:
        yield
    finally:
        _local.deferred = previous


_frozen_lock = threading.Lock()
_frozen_users = 0


@contextlib.contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a bulk job.

    Bulk work (an import's chunks, the delivery of batch rows) makes many short-lived
    containers, so the collector runs hundreds of times, and each full collection walked
    every object of the process (Django, the apps, an import's text): measured at a
    sixth of an import's CPU and a fifth of a batch delivery's. ``gc.freeze()`` moves
    the objects alive now out of its reach until ``gc.unfreeze()``; what the job makes
    is collected as usual. Process-wide, so the first of concurrent users freezes and
    the last one to finish thaws.
    """
    global _frozen_users
    with _frozen_lock:
        if _frozen_users == 0:
            gc.freeze()
        _frozen_users += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_users -= 1
            if _frozen_users == 0:
                gc.unfreeze()


def _deliver_after_commit(event_id: int, *, inline_only: bool = False) -> None:
    try:
        deliver_pending(ids=[event_id], worker_id=f"inline-{os.getpid()}", inline_only=inline_only)
    except Exception:  # the worker retries; a failed inline attempt must not fail the request
        logger.exception("inline event delivery failed; the worker will retry")


def _worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"


def _claimable(lane: str, now, ids: list[int] | None):
    qs = (
        OutboxEvent.objects.filter(
            status=OutboxEvent.Status.PENDING, lane=lane, available_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("id")
    )
    if ids is not None:
        qs = qs.filter(id__in=ids)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    return qs


_last_claim = threading.local()


def last_claim_was_full() -> bool:
    """Whether this thread's last :func:`claim` stopped at its limit or its bulk budget,
    so more deliverable events may be waiting (the worker then claims again at once)."""
    return getattr(_last_claim, "full", False)


def claim(
    *,
    limit: int = 100,
    worker_id: str | None = None,
    ids: list[int] | None = None,
    bulk_items: int | None = None,
) -> list[OutboxEvent]:
    """Lease deliverable events to this worker and return them, interactive ones first.

    Up to ``limit`` interactive events; then, with what is left of ``limit``, bulk
    events until they stand for ``bulk_items`` events (a batch counts its items; at
    least one bulk row is taken when there is room), so one pass of the worker is
    bounded however large the bulk backlog. ``bulk_items`` defaults to
    ``KITH_OUTBOX_BULK_ITEMS_PER_PASS``.
    """
    worker_id = worker_id or _worker_name()
    budget = settings.KITH_OUTBOX_BULK_ITEMS_PER_PASS if bulk_items is None else bulk_items
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.KITH_OUTBOX_LEASE_SECONDS)
    bulk_ids: list[int] = []
    with transaction.atomic():
        events = list(_claimable(INTERACTIVE, now, ids)[:limit])
        room = limit - len(events)
        full = room <= 0
        # Inline delivery names its (interactive) events: no bulk query in the request.
        if room > 0 and budget > 0 and (ids is None or len(events) < len(ids)):
            weight = 0
            # Ids and sizes only: a batch row carries its items, read once leased.
            for pk, size in _claimable(BULK, now, ids).values_list("id", "batch_size")[:room]:
                if weight and weight + max(size, 1) > budget:
                    full = True  # the budget stopped the slice, not the backlog's end
                    break
                bulk_ids.append(pk)
                weight += max(size, 1)
            full = full or len(bulk_ids) >= room
        _last_claim.full = full
        chosen = [e.id for e in events] + bulk_ids
        if chosen:
            OutboxEvent.objects.filter(id__in=chosen).update(
                locked_until=lease_until, locked_by=worker_id, attempts=F("attempts") + 1
            )
    if bulk_ids:
        events.extend(OutboxEvent.objects.filter(id__in=bulk_ids).order_by("id"))
    return events


def deliver(event: OutboxEvent, *, inline_only: bool = False) -> bool:
    """Run every subscriber still owed this event; True when all have it.

    ``inline_only`` runs just the inline subscribers (right after a commit) and leaves
    the event pending, its lease released, when the worker still owes it to others.
    """
    done = set(EventDelivery.objects.filter(event=event).values_list("subscriber", flat=True))
    failed = None
    left_for_worker = False
    items: list[OutboxEvent] | None = None  # a batch row's items, made once for all subscribers
    for sub in _subscriptions.values():
        if not sub.wants(event.name) or sub.name in done:
            continue
        if inline_only and not sub.inline:
            left_for_worker = True
            continue
        try:
            with transaction.atomic():
                if not event.batch_size:
                    sub.handler(event)
                else:
                    if items is None:
                        items = batch_items(event)
                    if sub.batch is not None:
                        sub.batch(event, items)
                    else:
                        for item in items:
                            sub.handler(item)
                EventDelivery.objects.create(
                    event=event, subscriber=sub.name, delivered_at=timezone.now()
                )
        except IntegrityError:
            # Another worker delivered it first (its lease had expired); that is success.
            if not EventDelivery.objects.filter(event=event, subscriber=sub.name).exists():
                failed = f"{sub.name}: integrity error"
        except Exception as exc:
            logger.warning("subscriber %s failed on %s: %s", sub.name, event, exc)
            failed = f"{sub.name}: {type(exc).__name__}: {exc}"
    now = timezone.now()
    if failed is None and left_for_worker:
        # Not a failed attempt: hand the event back so the worker claims it at once.
        OutboxEvent.objects.filter(pk=event.pk).update(
            locked_until=None, attempts=F("attempts") - 1
        )
        return False
    if failed is None:
        OutboxEvent.objects.filter(pk=event.pk).update(
            status=OutboxEvent.Status.DONE, processed_at=now, locked_until=None, last_error=""
        )
        return True
    _record_failure(event, failed)
    return False


def _record_failure(event: OutboxEvent, failed: str) -> None:
    """Put a failed event back for a later attempt (backing off), or fail it for good."""
    now = timezone.now()
    attempts = (
        OutboxEvent.objects.filter(pk=event.pk).values_list("attempts", flat=True).first() or 0
    )
    backoff = timedelta(seconds=min(2**attempts, 3600))
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=OutboxEvent.Status.FAILED
        if attempts >= MAX_ATTEMPTS
        else OutboxEvent.Status.PENDING,
        available_at=now + backoff,
        locked_until=None,
        last_error=failed[:2000],
    )


def deliver_pending(
    *,
    limit: int = 100,
    worker_id: str | None = None,
    ids: list[int] | None = None,
    inline_only: bool = False,
    bulk_items: int | None = None,
) -> int:
    """Claim and deliver one batch; returns how many outbox rows were fully delivered.

    Consecutive single events of the same name and object type go to their
    subscribers as a group (``deliver_group``): a subscriber with a batch handler takes
    them all at once, the delivery records and the status are written set-wise.
    """
    claimed = claim(limit=limit, worker_id=worker_id, ids=ids, bulk_items=bulk_items)
    if inline_only:
        return sum(int(deliver(event, inline_only=True)) for event in claimed)
    # Runs of consecutive events alike, so events are still delivered in their order.
    runs: list[list[OutboxEvent]] = []
    for event in claimed:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and not event.batch_size
            and not last.batch_size
            and (event.name, event.object_type) == (last.name, last.object_type)
        ):
            runs[-1].append(event)
        else:
            runs.append([event])
    if not any(event.batch_size for event in claimed):
        return sum(deliver_group(run) if len(run) > 1 else int(deliver(run[0])) for run in runs)
    with old_objects_frozen():  # bulk work: see old_objects_frozen
        return sum(deliver_group(run) if len(run) > 1 else int(deliver(run[0])) for run in runs)


def deliver_group(group: list[OutboxEvent]) -> int:
    """Deliver claimed single events that share a name and object type; returns how many
    were fully delivered.

    What ``deliver`` does for each, in a few statements for all: one read of the
    delivery records, one call of a subscriber's batch handler with every event it is
    still owed (a stand-in batch row carries the name and object type), one insert of
    their delivery records, one update of their status. A subscriber without a batch
    handler, or whose batch call fails, gets the events one by one in their own
    transactions, so one bad event fails alone and is retried as before.
    """
    first = group[0]
    by_id = {event.pk: event for event in group}
    done: dict[str, set[int]] = {}
    for event_id, name in EventDelivery.objects.filter(event_id__in=list(by_id)).values_list(
        "event_id", "subscriber"
    ):
        done.setdefault(name, set()).add(event_id)
    failed: dict[int, str] = {}
    for sub in _subscriptions.values():
        if not sub.wants(first.name):
            continue
        owed = [event for event in group if event.pk not in done.get(sub.name, ())]
        if not owed:
            continue
        if sub.batch is not None and len(owed) > 1:
            stand_in = OutboxEvent(
                public_id=first.public_id,
                name=first.name,
                occurred_at=first.occurred_at,
                object_type=first.object_type,
                object_id=first.object_id,
                data={},
                lane=first.lane,
                batch_size=len(owed),
            )
            try:
                with transaction.atomic():
                    sub.batch(stand_in, owed)
                    now = timezone.now()
                    EventDelivery.objects.bulk_create(
                        [
                            EventDelivery(event=e, subscriber=sub.name, delivered_at=now)
                            for e in owed
                        ]
                    )
                continue
            except Exception as exc:  # each event on its own below, as without grouping
                logger.info(
                    "batch delivery of %s to %s failed (%s); one by one", first.name, sub.name, exc
                )
        for event in owed:
            try:
                with transaction.atomic():
                    sub.handler(event)
                    EventDelivery.objects.create(
                        event=event, subscriber=sub.name, delivered_at=timezone.now()
                    )
            except IntegrityError:
                if not EventDelivery.objects.filter(event=event, subscriber=sub.name).exists():
                    failed[event.pk] = f"{sub.name}: integrity error"
            except Exception as exc:
                logger.warning("subscriber %s failed on %s: %s", sub.name, event, exc)
                failed[event.pk] = f"{sub.name}: {type(exc).__name__}: {exc}"
    ok = [pk for pk in by_id if pk not in failed]
    if ok:
        OutboxEvent.objects.filter(pk__in=ok).update(
            status=OutboxEvent.Status.DONE,
            processed_at=timezone.now(),
            locked_until=None,
            last_error="",
        )
    for pk, error in failed.items():
        _record_failure(by_id[pk], error)
    return len(ok)


def deliver_interactive(*, limit: int = 100) -> int:
    """Deliver the interactive events waiting now, and no bulk work; never raises.

    Long bulk jobs (an import running in the worker) call it between chunks, so a
    mention or a notification waits at most one chunk, not the whole job. Events its
    subscribers emit are interactive again, even inside ``deferred_delivery()``.
    """
    previous = getattr(_local, "deferred", False)
    _local.deferred = False
    try:
        with channel("worker"):
            return deliver_pending(limit=limit, bulk_items=0)
    except Exception:  # the bulk job must not fail for a subscriber; the worker retries
        logger.exception("interactive delivery between bulk chunks failed")
        return 0
    finally:
        _local.deferred = previous


def backlog() -> dict[str, Any]:
    """What waits in the outbox: per lane the pending rows, the events they stand for
    (a batch counts its items) and the age of the oldest; and how many failed for good.

    ``{"lanes": {"interactive": {"pending", "events", "oldest_at", "oldest_age_seconds"},
    "bulk": {…}}, "failed": n, "pending": total rows, "events": total events}``.
    """
    now = timezone.now()
    lanes: dict[str, dict[str, Any]] = {
        lane: {"pending": 0, "events": 0, "oldest_at": None, "oldest_age_seconds": None}
        for lane in OutboxEvent.Lane.values
    }
    rows = (
        OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
        .values("lane")
        .annotate(
            rows=Count("id"),
            batch_rows=Count("id", filter=Q(batch_size__gt=0)),
            items=Sum("batch_size"),
            oldest=Min("occurred_at"),
        )
        .order_by()
    )
    for row in rows:
        lane = lanes.setdefault(
            row["lane"],
            {"pending": 0, "events": 0, "oldest_at": None, "oldest_age_seconds": None},
        )
        lane["pending"] = row["rows"]
        # A single row is one event, a batch row its items (single rows hold 0).
        lane["events"] = row["rows"] - row["batch_rows"] + (row["items"] or 0)
        lane["oldest_at"] = row["oldest"]
        lane["oldest_age_seconds"] = (
            round(max((now - row["oldest"]).total_seconds(), 0.0), 1) if row["oldest"] else None
        )
    return {
        "lanes": lanes,
        "pending": sum(lane["pending"] for lane in lanes.values()),
        "events": sum(lane["events"] for lane in lanes.values()),
        "failed": OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED).count(),
    }
