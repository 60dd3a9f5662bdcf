"""API schemas for cases, conversation, queues, SLA policies, calendars and CSAT."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Field, Schema

from kith.service import queries
from kith.service.models import NO_DUE, BusinessCalendar, Case, CaseMessage, Queue, SlaPolicy


class PartyRef(Schema):
    id: uuid.UUID
    display_name: str


class QueueRef(Schema):
    id: uuid.UUID
    name: str


class DealRef(Schema):
    id: uuid.UUID
    title: str


class ClockOut(Schema):
    target: str
    due_at: dt.datetime | None
    met_at: dt.datetime | None
    breached: bool
    paused: bool
    remaining_seconds: float | None
    state: str


class CaseOut(Schema):
    id: uuid.UUID
    number: int
    token: str
    subject: str
    description: str
    status: str
    priority: str
    origin: str
    requester: PartyRef
    organization: PartyRef | None
    queue: QueueRef | None
    assignee: str | None
    tags: list[str]
    deal: DealRef | None
    sla_policy: str | None
    first_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    next_due_at: dt.datetime | None
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    breached: bool
    clocks: list[ClockOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class CasePage(Schema):
    items: list[CaseOut]
    next_cursor: str | None


class CaseIn(Schema):
    subject: str = Field(..., max_length=300)
    description: str = Field("", max_length=100_000)
    requester: uuid.UUID
    organization: uuid.UUID | None = None
    origin: Literal["email", "phone", "web", "portal", "chat", "social", "other"] = "web"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    queue: uuid.UUID | None = None
    assignee: str | None = Field(
        None, description="Username; omit to auto-assign by the queue's rule."
    )
    tags: list[str] = []
    deal: uuid.UUID | None = Field(None, description="The kith.sales deal this case is about.")


class CasePatch(Schema):
    subject: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=100_000)
    origin: Literal["email", "phone", "web", "portal", "chat", "social", "other"] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    organization: uuid.UUID | None = None
    queue: uuid.UUID | None = None
    tags: list[str] | None = None
    deal: uuid.UUID | None = None


class TransitionIn(Schema):
    status: str = Field(..., examples=["open"])


class AssignIn(Schema):
    assignee: str | None = Field(None, description="Username, or null to unassign.")


class AttachmentOut(Schema):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(Schema):
    id: uuid.UUID
    kind: str
    public: bool
    author: str | None
    sender: PartyRef | None
    from_email: str
    to_email: str
    subject: str
    body_text: str
    message_id: str
    in_reply_to: str
    references: list[str]
    occurred_at: dt.datetime
    sent_at: dt.datetime | None
    attachments: list[AttachmentOut]


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageIn(Schema):
    kind: Literal["reply", "note"]
    body: str = Field(..., max_length=100_000)


class IngestOut(Schema):
    outcome: str
    detail: str
    case: CaseOut | None


class QueueOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    email_address: str
    is_default: bool
    assignment_rule: str
    agents: list[str]


class QueuePage(Schema):
    items: list[QueueOut]
    next_cursor: str | None


class InboundMailOut(Schema):
    """What became of one inbound message."""

    id: uuid.UUID
    received_at: dt.datetime
    source: str
    message_id: str
    from_email: str
    subject: str
    outcome: str
    detail: str
    case: uuid.UUID | None


class InboundMailPage(Schema):
    items: list[InboundMailOut]
    next_cursor: str | None


def inbound_mail_out(mail) -> dict:
    return {
        "id": mail.public_id,
        "received_at": mail.created_at,
        "source": mail.source,
        "message_id": mail.message_id,
        "from_email": mail.from_email,
        "subject": mail.subject,
        "outcome": mail.outcome,
        "detail": mail.detail,
        "case": mail.case.public_id if mail.case_id else None,
    }


class QueueIn(Schema):
    name: str = Field(..., max_length=120)
    description: str = Field("", max_length=300)
    email_address: str = Field("", max_length=254)
    is_default: bool = False
    assignment_rule: Literal["none", "round_robin", "least_loaded"] = "none"
    agents: list[str] = Field([], description="Usernames of the queue's agents.")


class QueuePatch(Schema):
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=300)
    email_address: str | None = Field(None, max_length=254)
    is_default: bool | None = None
    assignment_rule: Literal["none", "round_robin", "least_loaded"] | None = None
    agents: list[str] | None = None


class HolidayIO(Schema):
    date: dt.date
    name: str = ""


class CalendarOut(Schema):
    id: uuid.UUID
    name: str
    timezone: str
    weekly_hours: dict[str, list[list[str]]]
    holidays: list[HolidayIO]


class CalendarPage(Schema):
    items: list[CalendarOut]
    next_cursor: str | None


class CalendarIn(Schema):
    name: str = Field(..., max_length=120)
    timezone: str = Field("UTC", max_length=64)
    weekly_hours: dict[str, list[list[str]]] = Field(
        ..., examples=[{"0": [["09:00", "17:00"]], "1": [["09:00", "17:00"]]}]
    )
    holidays: list[HolidayIO] = []


class CalendarPatch(Schema):
    name: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, max_length=64)
    weekly_hours: dict[str, list[list[str]]] | None = None
    holidays: list[HolidayIO] | None = None


class SlaPolicyOut(Schema):
    id: uuid.UUID
    name: str
    priority: str
    organization: PartyRef | None
    calendar: uuid.UUID | None
    first_response_minutes: int
    resolution_minutes: int
    active: bool


class SlaPolicyPage(Schema):
    items: list[SlaPolicyOut]
    next_cursor: str | None


class SlaPolicyIn(Schema):
    name: str = Field(..., max_length=120)
    priority: Literal["low", "normal", "high", "urgent"]
    organization: uuid.UUID | None = None
    calendar: uuid.UUID | None = None
    first_response_minutes: int
    resolution_minutes: int


class SlaPolicyPatch(Schema):
    # Absent means unchanged. Only organization and calendar may be cleared with null;
    # the other fields are typed without None so an explicit null is a 422.
    name: str = Field(None, max_length=120)
    priority: Literal["low", "normal", "high", "urgent"] = None
    organization: uuid.UUID | None = None
    calendar: uuid.UUID | None = None
    first_response_minutes: int = None
    resolution_minutes: int = None
    active: bool = None


class BreachOut(Schema):
    id: uuid.UUID
    case: uuid.UUID
    case_number: int
    subject: str
    kind: str
    due_at: dt.datetime
    breached_at: dt.datetime
    queue: str | None
    assignee: str | None
    notified_at: dt.datetime | None


class BreachGroup(Schema):
    total: int
    first_response: int
    resolution: int


class BreachQueueRow(BreachGroup):
    queue: str | None
    queue_name: str


class BreachAgentRow(BreachGroup):
    agent: str | None


class BreachReport(Schema):
    per_queue: list[BreachQueueRow]
    per_agent: list[BreachAgentRow]
    items: list[BreachOut]
    next_cursor: str | None


class CsatRow(Schema):
    group: str
    count: int
    average: float
    distribution: list[int]
    satisfied_percent: float


class CsatLinkOut(Schema):
    url: str
    token: str


class CsatCaseOut(Schema):
    number: int
    token: str
    subject: str
    rated: bool


class CsatIn(Schema):
    rating: int
    comment: str = Field("", max_length=5000)


class CsatOut(Schema):
    rating: int
    comment: str
    submitted_at: dt.datetime


# ---------------------------------------------------------------- serialisers


def party_ref(party) -> dict | None:
    if party is None:
        return None
    return {"id": party.public_id, "display_name": party.display_name}


def case_out(case: Case, *, now: dt.datetime | None = None, tags: list[str] | None = None) -> dict:
    """One case as the API shows it; lists pass ``tags`` (from ``queries.tag_names``)
    so a page costs one tag query, not one related manager per row."""
    return {
        "id": case.public_id,
        "number": case.number,
        "token": case.token,
        "subject": case.subject,
        "description": case.description,
        "status": case.status,
        "priority": case.priority,
        "origin": case.origin,
        "requester": party_ref(case.requester),
        "organization": party_ref(case.organization),
        "queue": {"id": case.queue.public_id, "name": case.queue.name} if case.queue else None,
        "assignee": case.assignee.username if case.assignee else None,
        "tags": tags if tags is not None else sorted(t.name for t in case.tags.all()),
        "deal": {"id": case.deal.public_id, "title": case.deal.title} if case.deal_id else None,
        "sla_policy": case.sla_policy.name if case.sla_policy_id and case.sla_policy else None,
        "first_response_due_at": case.first_response_due_at,
        "resolution_due_at": case.resolution_due_at,
        "next_due_at": None if case.next_due_at == NO_DUE else case.next_due_at,
        "first_responded_at": case.first_responded_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "breached": case.breached,
        "clocks": [{**c.__dict__, "state": c.state} for c in queries.clocks(case, now=now)],
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def message_out(message: CaseMessage) -> dict:
    return {
        "id": message.public_id,
        "kind": message.kind,
        "public": message.is_public,
        "author": message.author.username if message.author else None,
        "sender": party_ref(message.sender),
        "from_email": message.from_email,
        "to_email": message.to_email,
        "subject": message.subject,
        "body_text": message.body_text,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": message.references.split(),
        "occurred_at": message.occurred_at,
        "sent_at": message.sent_at,
        "attachments": [
            {
                "id": a.public_id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/api/attachments/{a.public_id}",
            }
            for a in message.attachments.all()
        ],
    }


def queue_out(queue: Queue) -> dict:
    return {
        "id": queue.public_id,
        "name": queue.name,
        "description": queue.description,
        "email_address": queue.email_address,
        "is_default": queue.is_default,
        "assignment_rule": queue.assignment_rule,
        "agents": sorted(u.username for u in queue.agents.all()),
    }


def calendar_out(cal: BusinessCalendar) -> dict:
    return {
        "id": cal.public_id,
        "name": cal.name,
        "timezone": cal.timezone,
        "weekly_hours": cal.weekly_hours,
        "holidays": [{"date": h.date, "name": h.name} for h in cal.holidays.all()],
    }


def policy_out(policy: SlaPolicy) -> dict:
    return {
        "id": policy.public_id,
        "name": policy.name,
        "priority": policy.priority,
        "organization": party_ref(policy.organization),
        "calendar": policy.calendar.public_id if policy.calendar_id else None,
        "first_response_minutes": policy.first_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "active": policy.active,
    }


def breach_out(b) -> dict:
    return {
        "id": b.public_id,
        "case": b.case.public_id,
        "case_number": b.case.number,
        "subject": b.case.subject,
        "kind": b.kind,
        "due_at": b.due_at,
        "breached_at": b.breached_at,
        "queue": b.queue.name if b.queue else None,
        "assignee": b.assignee.username if b.assignee else None,
        "notified_at": b.notified_at,
    }


class DeflectionReport(Schema):
    offered: int
    viewed: int
    deflected: int
    confirmed: int
    submitted: int
    rate: float
