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
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from kith.core.audit import jsonable
from kith.core.models import EventDelivery, OutboxEvent

logger = logging.getLogger("kith.events")

MAX_ATTEMPTS = 10
Handler = Callable[[OutboxEvent], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    events: frozenset[str]  # "*" matches every event
    handler: Handler
    # Inline subscribers also run right after the commit, inside the request, because the
    # user expects to see their effect on the next page; the others wait for the worker.
    inline: bool = True

    def wants(self, event_name: str) -> bool:
        return "*" in self.events or event_name in self.events


_subscriptions: dict[str, Subscription] = {}
_local = threading.local()


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


def emit(name: str, *, obj: Any, actor: Any = None, data: dict | None = None) -> OutboxEvent:
    """Queue the domain event ``name`` (``object.action``) about ``obj`` in this transaction."""
    now = timezone.now()
    # An event nobody subscribes to is still recorded (the outbox is the event log), but
    # born delivered: claiming and settling it would cost three queries for nothing.
    wanting = [sub for sub in _subscriptions.values() if sub.wants(name)]
    wanted = bool(wanting)
    event = OutboxEvent.objects.create(
        name=name,
        occurred_at=now,
        available_at=now,
        actor_id=getattr(actor, "pk", None) if getattr(actor, "is_authenticated", False) else None,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        object_public_id=getattr(obj, "public_id", None),
        data=jsonable(data or {}),
        status=OutboxEvent.Status.PENDING if wanted else OutboxEvent.Status.DONE,
        processed_at=None if wanted else now,
    )
    if (
        any(sub.inline for sub in wanting)
        and settings.KITH_DELIVER_EVENTS_ON_COMMIT
        and not getattr(_local, "deferred", False)
    ):
        transaction.on_commit(lambda: _deliver_after_commit(event.pk, inline_only=True))
    return event


@contextlib.contextmanager
def deferred_delivery() -> Iterator[None]:
    """Leave events emitted inside the block to the worker (bulk imports, demo data)."""
    previous = getattr(_local, "deferred", False)
    _local.deferred = True
    try:
        yield
    finally:
        _local.deferred = previous


def _deliver_after_commit(event_id: int, *, inline_only: bool = False) -> None:
    try:
        deliver_pending(ids=[event_id], worker_id=f"inline-{os.getpid()}", inline_only=inline_only)
    except Exception:  # the worker retries; a failed inline attempt must not fail the request
        logger.exception("inline event delivery failed; the worker will retry")


def _worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"


def claim(
    *, limit: int = 100, worker_id: str | None = None, ids: list[int] | None = None
) -> list[OutboxEvent]:
    """Lease up to ``limit`` deliverable events to this worker and return them."""
    worker_id = worker_id or _worker_name()
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.KITH_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        qs = (
            OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING, available_at__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .order_by("id")
        )
        if ids is not None:
            qs = qs.filter(id__in=ids)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        events = list(qs[:limit])
        if events:
            OutboxEvent.objects.filter(id__in=[e.id for e in events]).update(
                locked_until=lease_until, locked_by=worker_id, attempts=F("attempts") + 1
            )
    return events


def deliver(event: OutboxEvent, *, inline_only: bool = False) -> bool:
    """Run every subscriber still owed this event; True when all have it.

    ``inline_only`` runs just the inline subscribers (right after a commit) and leaves
    the event pending, its lease released, when the worker still owes it to others.
    """
    done = set(EventDelivery.objects.filter(event=event).values_list("subscriber", flat=True))
    failed = None
    left_for_worker = False
    for sub in _subscriptions.values():
        if not sub.wants(event.name) or sub.name in done:
            continue
        if inline_only and not sub.inline:
            left_for_worker = True
            continue
        try:
            with transaction.atomic():
                sub.handler(event)
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
    return False


def deliver_pending(
    *,
    limit: int = 100,
    worker_id: str | None = None,
    ids: list[int] | None = None,
    inline_only: bool = False,
) -> int:
    """Claim and deliver one batch; returns how many events were fully delivered."""
    delivered = 0
    for event in claim(limit=limit, worker_id=worker_id, ids=ids):
        delivered += int(deliver(event, inline_only=inline_only))
    return delivered
