"""The transparency log: which member of staff read a person's record, when, how and why.

Recording is cheap by construction, so the person page and timeline keep their speed:

* a read is *noted* in a per-request buffer (``note_read``), nothing is written while
  the page is being built;
* ``ReadLogMiddleware`` hands the buffer to the response as a closer, so the rows are
  written in **one** ``INSERT … ON CONFLICT DO NOTHING`` after the response was sent
  (the WSGI server closes the response after the last byte), a statement prepared once
  per process (``kith.core.prepared``): ``bulk_create``, building it anew for every
  request, spent 1.6 times the CPU (0.35 against 0.22 ms a write on PostgreSQL);
* rows are **coalesced**: one per (staff, person, channel) per window of
  ``KITH_CMR_TRANSPARENCY_WINDOW_MINUTES``, the unique constraint doing the work, so a
  member of staff paging through a timeline adds one row, not fifty.

Outside a request (the CLI, a worker job, a test calling a service) a noted read is
written at once. Roles listed in ``KITH_CMR_PURPOSE_REQUIRED_ROLES`` must give a
purpose: the API takes it as the ``X-Kith-Purpose`` header or a ``purpose`` query
parameter and answers 400 naming the field without it; the person page asks for it
once per person and session.

Changes to a person are in the audit log already; ``entries_for`` shows both together,
naming staff as the company configures (``KITH_CMR_STAFF_NAMES``: ``name`` or ``team``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kith.core.errors import FieldError, KithError
from kith.core.models import AuditEntry
from kith.core.prepared import insert_many
from kith.people.models import Party

from .models import AccessLogEntry, ReadChannel

logger = logging.getLogger("kith.cmr.transparency")

PURPOSE_HEADER = "HTTP_X_KITH_PURPOSE"
MAX_PURPOSE = 200
_SESSION_KEY = "cmr_read_purpose"
_local = threading.local()


class PurposeRequired(KithError):
    """A role that must say why it reads a person's record did not."""

    code = "purpose_required"
    status = 400
    default_message = "purpose: Say why you open this record (X-Kith-Purpose header or purpose)."

    def __init__(self, message: str | None = None):
        super().__init__(
            message,
            errors=[
                FieldError(
                    "purpose",
                    "Your role must give a reason to read a person's record "
                    "(the X-Kith-Purpose header or the purpose parameter).",
                )
            ],
        )


def enabled() -> bool:
    return bool(settings.KITH_CMR_TRANSPARENCY)


def purpose_required(user) -> bool:
    """Whether ``user``'s role must give a purpose to read a person."""
    return (
        getattr(user, "is_staff_user", False)
        and getattr(user, "role", None) in settings.KITH_CMR_PURPOSE_REQUIRED_ROLES
    )


def _clean(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text[:MAX_PURPOSE]


def purpose_of(request: HttpRequest) -> str:
    """The purpose the request gives (header first, then the query parameter)."""
    return _clean(request.META.get(PURPOSE_HEADER) or request.GET.get("purpose"))


def require_purpose(request: HttpRequest) -> str:
    """The request's purpose; PurposeRequired (400) when the user's role needs one."""
    purpose = purpose_of(request)
    if not purpose and purpose_required(request.user) and enabled():
        raise PurposeRequired()
    return purpose


@dataclass(frozen=True)
class _Read:
    person_id: int
    actor_id: int
    channel: str
    purpose: str
    at: float


def _is_staff_read(actor, person: Party) -> bool:
    return (
        getattr(actor, "is_staff_user", False)
        and getattr(person, "kind", None) == Party.Kind.PERSON
        and person.pk is not None
    )


def note_read(*, actor, person: Party, channel: str, purpose: str = "") -> None:
    """Note that staff ``actor`` read ``person`` through ``channel``.

    Buffered while a request runs (written after the response), written at once
    otherwise. Customers reading their own record and reads of organisations are not
    logged: the log answers "who at the company looked at me".
    """
    if not enabled() or not _is_staff_read(actor, person):
        return
    if channel not in ReadChannel.values:
        raise ValueError(f"unknown read channel {channel!r}")
    read = _Read(person.pk, actor.pk, channel, _clean(purpose), time.time())
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        write([read])
    else:
        buffer.append(read)


def record_read(request: HttpRequest, person: Party, channel: str) -> None:
    """Check the request's purpose (400 when required and missing) and note the read."""
    purpose = require_purpose(request)
    note_read(actor=request.user, person=person, channel=channel, purpose=purpose)


def write(reads: list[_Read]) -> int:
    """Write noted reads in one statement, one row per (person, staff, channel, window)."""
    if not reads:
        return 0
    window_s = max(settings.KITH_CMR_TRANSPARENCY_WINDOW_MINUTES, 1) * 60
    rows: dict[tuple, AccessLogEntry] = {}
    for r in reads:
        window = int(r.at // window_s)
        key = (r.person_id, r.actor_id, r.channel, window)
        if key not in rows:  # the first read of a window keeps its time and purpose
            rows[key] = AccessLogEntry(
                person_id=r.person_id,
                actor_id=r.actor_id,
                channel=r.channel,
                purpose=r.purpose,
                window=window,
                occurred_at=dt.datetime.fromtimestamp(r.at, tz=dt.UTC),
            )
    insert_many(list(rows.values()), ids=False, ignore_conflicts=True)
    return len(rows)


def _flush(reads: list[_Read]) -> None:
    try:
        write(reads)
    except DatabaseError:  # the page was served; a lost log row must not become an error
        logger.exception("could not write %d transparency log rows", len(reads))


class ReadLogMiddleware:
    """Collects the reads a request notes and writes them after the response is sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        previous = getattr(_local, "buffer", None)
        buffer: list[_Read] = []
        _local.buffer = buffer
        try:
            response = self.get_response(request)
        finally:
            _local.buffer = previous
        if buffer:
            # Closers run when the server closes the response, after the last byte and
            # before Django's request_finished handlers (which may close the connection).
            response._resource_closers.append(lambda: _flush(buffer))
        return response


# ---------------------------------------------------------------- the person page


def web_gate(request: HttpRequest, person: Party, channel: str) -> HttpResponse | None:
    """Note a staff web read of ``person``; when the role must give a purpose and has
    not for this person in this session, answer the page that asks for it instead."""
    if not enabled() or not _is_staff_read(request.user, person):
        return None
    given = purpose_of(request)
    remembered = request.session.get(_SESSION_KEY, {}) if hasattr(request, "session") else {}
    key = str(person.public_id)
    if given and hasattr(request, "session"):
        remembered = {**remembered, key: given}
        # Bounded: the last few people read, not a growing cookie.
        request.session[_SESSION_KEY] = dict(list(remembered.items())[-20:])
    purpose = given or remembered.get(key, "")
    if not purpose and purpose_required(request.user):
        if request.headers.get("HX-Request"):
            raise PurposeRequired()
        return render(
            request,
            "cmr/transparency_purpose.html",
            {"party": person, "channel": channel, "next": request.path},
            status=200,
        )
    note_read(actor=request.user, person=person, channel=channel, purpose=purpose)
    return None


# ---------------------------------------------------------------- reading the log


@dataclass
class LogEntry:
    occurred_at: Any
    kind: str  # "read" or "change"
    who: str
    what: str
    why: str
    channel: str


def _team_of(user) -> str:
    names = sorted(t.name for t in user.teams.all())
    return names[0] if names else f"{settings.KITH_COMPANY_NAME} staff"


def staff_label(user, *, for_customer: bool) -> str:
    """How a member of staff is named: to staff always by name; to the customer by
    name or only by team, as ``KITH_CMR_STAFF_NAMES`` says."""
    if user is None:
        return "Automatic process"
    name = user.get_full_name() or user.get_username()
    if not for_customer or settings.KITH_CMR_STAFF_NAMES != "team":
        return name
    return _team_of(user)


def _action_text(action: str) -> str:
    return action.replace("_", " ").replace(".", " ")


def entries_for(person: Party, *, viewer, limit: int = 200) -> list[LogEntry]:
    """Reads and changes of ``person``'s record, newest first (at most ``limit`` of each)."""
    from kith.accounts.models import User

    for_customer = getattr(viewer, "is_portal", False)
    reads = list(
        AccessLogEntry.objects.filter(person=person).order_by("-occurred_at", "-id")[:limit]
    )
    changes = list(AuditEntry.objects.filter(party_id=person.pk).order_by("-occurred_at")[:limit])
    ids = {r.actor_id for r in reads} | {c.actor_id for c in changes}
    users = {u.pk: u for u in User.objects.filter(pk__in=ids - {None}).prefetch_related("teams")}
    own_user = getattr(person, "user", None) if for_customer else None

    def who(actor_id, fallback: str = "") -> str:
        if for_customer and own_user is not None and actor_id == own_user.pk:
            return "You"
        user = users.get(actor_id)
        if user is not None and getattr(user, "is_portal", False):
            return "You" if for_customer else "The customer"
        if user is None and fallback and not for_customer:
            return fallback
        return staff_label(user, for_customer=for_customer)

    out = [
        LogEntry(
            r.occurred_at,
            "read",
            who(r.actor_id),
            f"looked at your record ({ReadChannel(r.channel).label.lower()})"
            if for_customer
            else f"read ({ReadChannel(r.channel).label.lower()})",
            r.purpose,
            r.channel,
        )
        for r in reads
    ]
    out += [
        LogEntry(
            c.occurred_at,
            "change",
            who(c.actor_id, c.actor_label),
            _action_text(c.action),
            "",
            c.channel,
        )
        for c in changes
    ]
    out.sort(key=lambda e: e.occurred_at, reverse=True)
    return out[: limit * 2]
