"""HTTP API for the state of the system itself (admins only): the outbox backlog, the
background tasks waiting per queue and this server's bulk worker process.

Registered in ``kith.api`` behind the staff authentication, so anonymous callers get
401 and customers 404; staff who are not admins get 403.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from kith.core import bulk_worker, events, worker
from kith.core.errors import Forbidden

router = Router(tags=["system"])


class LaneOut(Schema):
    pending: int
    events: int
    oldest_at: dt.datetime | None
    oldest_age_seconds: float | None


class OutboxOut(Schema):
    lanes: dict[str, LaneOut]
    pending: int
    events: int
    failed: int


class BulkWorkerOut(Schema):
    pid: int | None
    alive: bool
    starts: int


class TasksOut(Schema):
    queues: dict[str, int]
    bulk_worker: BulkWorkerOut | None


def require_admin(user) -> None:
    """Admins only (Kith's admins are Django superusers, see kith.accounts.services)."""
    if not (getattr(user, "is_superuser", False) and user.is_active):
        raise Forbidden("Only admins see the state of the system.")


@router.get("/system/outbox", response=OutboxOut, url_name="system_outbox")
def outbox(request: HttpRequest):
    """Domain events waiting for the worker, per lane (``interactive`` is delivered before
    ``bulk``): outbox rows, the events they stand for (a bulk batch counts its items),
    the oldest one's time and age in seconds; and the events that failed for good."""
    require_admin(request.user)
    return events.backlog()


@router.get("/system/tasks", response=TasksOut, url_name="system_tasks")
def tasks(request: HttpRequest):
    """Background tasks ready to run, per queue (``bulk`` holds imports and model fits;
    empty when tasks run at once, without the database task backend), and the bulk
    worker process this server supervises: its pid, whether it runs, how many times it
    was started (more than once: it died and was started again). ``bulk_worker`` is
    null when this server runs no such process (``KITH_BULK_WORKER_PROCESS=false``, or
    a server started other than by ``kith serve``)."""
    require_admin(request.user)
    return {"queues": worker.waiting_tasks(), "bulk_worker": bulk_worker.status()}
