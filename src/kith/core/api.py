"""HTTP API for the state of the system itself (admins only): the outbox backlog.

Registered in ``kith.api`` behind the staff authentication, so anonymous callers get
401 and customers 404; staff who are not admins get 403.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from kith.core import events
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
