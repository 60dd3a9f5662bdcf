"""HTTP API for kith.service (thin: parse, check access, call a service or query, serialise).

Fixed paths (``/cases/email``, ``/cases/breaches``) are declared before
``/cases/{public_id}`` so the pattern does not swallow them.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kith.accounts.models import User
from kith.core.context import channel
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.pagination import clamp_limit, paginate
from kith.people import access as people_access
from kith.people.models import Party
from kith.service import access, inbound, queries, services
from kith.service.models import (
    Attachment,
    BusinessCalendar,
    Case,
    CaseMessage,
    InboundMail,
    Queue,
    SlaBreach,
    SlaPolicy,
)
from kith.service.schemas import (
    AssignIn,
    BreachReport,
    CalendarIn,
    CalendarOut,
    CalendarPage,
    CalendarPatch,
    CaseIn,
    CaseOut,
    CasePage,
    CasePatch,
    CsatCaseOut,
    CsatIn,
    CsatLinkOut,
    CsatOut,
    CsatRow,
    DeflectionReport,
    InboundMailPage,
    IngestOut,
    MessageIn,
    MessageOut,
    MessagePage,
    QueueIn,
    QueueOut,
    QueuePage,
    QueuePatch,
    SlaPolicyIn,
    SlaPolicyOut,
    SlaPolicyPage,
    SlaPolicyPatch,
    TransitionIn,
    breach_out,
    calendar_out,
    case_out,
    inbound_mail_out,
    message_out,
    policy_out,
    queue_out,
)

router = Router(tags=["service"])

ORDERS = {
    "due": ("next_due_at", "id"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-number": ("-number",),
}


# ---------------------------------------------------------------- helpers


def _staff_user(username: str | None, field: str) -> User | None:
    if not username:
        return None
    user = User.objects.filter(username=username, kind=User.Kind.STAFF, is_active=True).first()
    if user is None:
        raise ValidationFailed.single(field, "No active staff user with that username.")
    return user


def _party(
    request: HttpRequest, public_id: uuid.UUID | None, field: str, kind: str
) -> Party | None:
    if public_id is None:
        return None
    try:
        return people_access.get_party(request.user, public_id, kind=kind)
    except NotFound:
        raise ValidationFailed.single(field, f"No such {kind}.") from None


def _deal(request: HttpRequest, public_id: uuid.UUID | None):
    if public_id is None:
        return None
    from kith.sales import access as sales_access

    try:
        return sales_access.get_deal(request.user, public_id)
    except NotFound:
        raise ValidationFailed.single("deal", "No such deal.") from None


def _queue(public_id: uuid.UUID | None, field: str = "queue") -> Queue | None:
    if public_id is None:
        return None
    queue = Queue.objects.filter(public_id=public_id).first()
    if queue is None:
        raise ValidationFailed.single(field, "No such queue.")
    return queue


def _calendar(public_id: uuid.UUID | None) -> BusinessCalendar | None:
    if public_id is None:
        return None
    cal = BusinessCalendar.objects.filter(public_id=public_id).first()
    if cal is None:
        raise ValidationFailed.single("calendar", "No such calendar.")
    return cal


def _fresh_case(case: Case) -> dict:
    case = (
        Case.objects.select_related(
            "requester", "organization", "queue", "assignee", "sla_policy__calendar", "deal"
        )
        .prefetch_related("tags")
        .get(pk=case.pk)
    )
    return case_out(case)


def _case_json(case: Case) -> dict:
    return CaseOut.model_validate(_fresh_case(case)).model_dump(mode="json")


# ---------------------------------------------------------------- cases


class CaseListQuery(Schema):
    status: str = ""
    queue: str = ""
    assignee: str = ""
    priority: str = ""
    breached: bool | None = None
    requester: str = ""
    q: str = ""
    order: str = "due"
    cursor: str | None = None
    limit: int | None = None


@router.get("/cases", response=CasePage, url_name="list_cases")
def list_cases(request: HttpRequest, query: Query[CaseListQuery]):
    """Cases you may see. ``status`` is a comma list (default: the open statuses; ``all``
    for every status); ``queue`` a queue id or ``none``; ``assignee`` a username, ``me``
    or ``none``; ``order`` is ``due`` (next SLA deadline first), ``-created``, ``created``
    or ``-number``."""
    access.require_staff(request.user)
    limit = clamp_limit(query.limit)
    if query.order not in ORDERS:
        raise ValidationFailed.single("order", f"One of: {', '.join(ORDERS)}.")
    filters = queries.CaseFilters(
        status=[s.strip() for s in query.status.split(",") if s.strip()] or None,
        queue=query.queue,
        assignee=query.assignee,
        priority=query.priority,
        breached=query.breached,
        requester=query.requester,
        q=query.q,
    )
    qs = queries.apply_filters(access.scope_cases(request.user), filters, user=request.user)
    qs = queries.list_queryset(qs)
    page = paginate(qs, order=ORDERS[query.order], cursor=query.cursor, limit=limit)
    queries.attach_shared(page.items)
    tags = queries.tag_names([c.pk for c in page.items])
    now = timezone.now()
    return {
        "items": [case_out(c, now=now, tags=tags[c.pk]) for c in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post("/cases", response={201: CaseOut}, url_name="create_case")
@idempotent
def create_case(request: HttpRequest, payload: CaseIn):
    access.require_writer(request.user)
    data = services.CaseInput(
        subject=payload.subject,
        description=payload.description,
        requester=_party(request, payload.requester, "requester", Party.Kind.PERSON),
        organization=_party(request, payload.organization, "organization", Party.Kind.ORGANIZATION),
        origin=payload.origin,
        priority=payload.priority,
        queue=_queue(payload.queue),
        assignee=_staff_user(payload.assignee, "assignee"),
        tags=payload.tags,
        deal=_deal(request, payload.deal),
    )
    case = services.create_case(actor=request.user, data=data)
    return Status(201, _case_json(case))


@router.post(
    "/cases/email", response={201: IngestOut, 200: IngestOut}, url_name="upload_case_email"
)
def upload_case_email(request: HttpRequest, file: File[UploadedFile], queue: str = ""):
    """Upload one ``.eml`` message: it creates a case, threads into one, or is ignored
    (auto-reply, bounce, duplicate) — the ``outcome`` says which. 201 when a case was
    created."""
    access.require_writer(request.user)
    target = _queue(queries._uuid(queue, "queue")) if queue else None
    raw = file.read(inbound.MAX_RAW_BYTES + 1)
    with channel("api"):
        result = inbound.ingest_email(raw=raw, source="upload", actor=request.user, queue=target)
    body = {
        "outcome": result.outcome,
        "detail": result.detail,
        "case": _fresh_case(result.case) if result.case else None,
    }
    return Status(
        201 if result.created else 200, IngestOut.model_validate(body).model_dump(mode="json")
    )


class BreachQuery(Schema):
    queue: str = ""
    assignee: str = ""
    cursor: str | None = None
    limit: int | None = None


@router.get("/cases/breaches", response=BreachReport, url_name="case_breaches")
def case_breaches(request: HttpRequest, query: Query[BreachQuery]):
    """SLA breaches of the cases you may see: totals per queue and per agent, and the list."""
    access.require_staff(request.user)
    cases = access.scope_cases(request.user)
    report = queries.breach_report(cases)
    rows = SlaBreach.objects.filter(case__in=cases.values("pk")).select_related(
        "case", "queue", "assignee"
    )
    if query.queue:
        rows = rows.filter(queue__public_id=queries._uuid(query.queue, "queue"))
    if query.assignee:
        rows = rows.filter(assignee__username=query.assignee)
    page = paginate(
        rows, order=("-breached_at", "-id"), cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {
        "per_queue": report["per_queue"],
        "per_agent": report["per_agent"],
        "items": [breach_out(b) for b in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/cases/deflection", response=DeflectionReport, url_name="case_deflection")
def case_deflection(request: HttpRequest, since: dt.datetime | None = None):
    """Case deflection in the customer portal (admins and managers): suggestions
    offered, answers viewed, cases not opened after reading one (``deflected``)."""
    people_access.require_manager(request.user)
    return queries.deflection_report(since=since)


@router.get("/cases/{public_id}", response=CaseOut, url_name="get_case")
def get_case(request: HttpRequest, public_id: uuid.UUID):
    return _fresh_case(access.get_case(request.user, public_id))


@router.patch("/cases/{public_id}", response=CaseOut, url_name="update_case")
def update_case(request: HttpRequest, public_id: uuid.UUID, payload: CasePatch):
    case = access.get_case_for_change(request.user, public_id)
    sent = payload.model_dump(exclude_unset=True)
    changes = {
        k: sent[k] for k in ("subject", "description", "origin", "priority", "tags") if k in sent
    }
    if "organization" in sent:
        changes["organization"] = _party(
            request, sent["organization"], "organization", Party.Kind.ORGANIZATION
        )
    if "queue" in sent:
        changes["queue"] = _queue(sent["queue"])
    if "deal" in sent:
        changes["deal"] = _deal(request, sent["deal"])
    case = services.update_case(actor=request.user, case=case, changes=changes)
    return _fresh_case(case)


@router.delete("/cases/{public_id}", response={204: None}, url_name="delete_case")
def delete_case(request: HttpRequest, public_id: uuid.UUID):
    case = access.get_case_for_delete(request.user, public_id)
    services.delete_case(actor=request.user, case=case)
    return Status(204, None)


@router.post("/cases/{public_id}/transitions", response=CaseOut, url_name="transition_case")
def transition_case(request: HttpRequest, public_id: uuid.UUID, payload: TransitionIn):
    """Move the case to ``status``; an illegal move is a 422 on ``status``."""
    case = access.get_case_for_change(request.user, public_id)
    case = services.change_status(actor=request.user, case=case, status=payload.status)
    return _fresh_case(case)


@router.post("/cases/{public_id}/assignment", response=CaseOut, url_name="assign_case")
def assign_case(request: HttpRequest, public_id: uuid.UUID, payload: AssignIn):
    case = access.get_case_for_change(request.user, public_id)
    assignee = _staff_user(payload.assignee, "assignee")
    case = services.assign_case(actor=request.user, case=case, assignee=assignee)
    return _fresh_case(case)


class PageQuery(Schema):
    cursor: str | None = None
    limit: int | None = None


@router.get("/cases/{public_id}/messages", response=MessagePage, url_name="list_case_messages")
def list_case_messages(request: HttpRequest, public_id: uuid.UUID, query: Query[PageQuery]):
    """The conversation, oldest first: customer messages, public replies and internal notes."""
    case = access.get_case(request.user, public_id)
    qs = access.visible_messages(request.user, case).select_related("author", "sender")
    page = paginate(
        qs.prefetch_related("attachments"),
        order=("occurred_at", "id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [message_out(m) for m in page.items], "next_cursor": page.next_cursor}


@router.post("/cases/{public_id}/messages", response={201: MessageOut}, url_name="add_case_message")
@idempotent
def add_case_message(request: HttpRequest, public_id: uuid.UUID, payload: MessageIn):
    """A public ``reply`` (e-mailed to the requester with threading headers) or an
    internal ``note`` (never shown or sent to the customer)."""
    case = access.get_case_for_change(request.user, public_id)
    message = services.add_message(
        actor=request.user, case=case, kind=payload.kind, body=payload.body
    )
    message = CaseMessage.objects.select_related("author", "sender").get(pk=message.pk)
    return Status(201, MessageOut.model_validate(message_out(message)).model_dump(mode="json"))


@router.get("/cases/{public_id}/csat-link", response=CsatLinkOut, url_name="case_csat_link")
def case_csat_link(request: HttpRequest, public_id: uuid.UUID):
    """The signed rating link of a resolved case (also e-mailed on resolution)."""
    case = access.get_case(request.user, public_id)
    if case.status not in ("resolved", "closed"):
        raise ValidationFailed.single("status", "Only resolved or closed cases can be rated.")
    token = services.csat_token(case)
    return {"url": f"{settings.KITH_BASE_URL}/service/csat/{token}/", "token": token}


@router.get("/attachments/{public_id}", url_name="get_attachment")
def get_attachment(request: HttpRequest, public_id: uuid.UUID):
    """Download an attachment of a case you may see."""
    attachment = (
        Attachment.objects.select_related("message__case").filter(public_id=public_id).first()
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    access.get_case(request.user, attachment.message.case.public_id)
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


# ---------------------------------------------------------------- queues


def _agents(usernames: list[str]) -> list[User]:
    return [_staff_user(name, "agents") for name in usernames]


@router.get("/queues", response=QueuePage, url_name="list_queues")
def list_queues(request: HttpRequest, query: Query[PageQuery]):
    access.require_staff(request.user)
    page = paginate(
        Queue.objects.prefetch_related("agents"),
        order=("name", "id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [queue_out(q) for q in page.items], "next_cursor": page.next_cursor}


@router.post("/queues", response={201: QueueOut}, url_name="create_queue")
@idempotent
def create_queue(request: HttpRequest, payload: QueueIn):
    access.require_manager(request.user)
    queue = services.create_queue(
        actor=request.user,
        name=payload.name,
        description=payload.description,
        assignment_rule=payload.assignment_rule,
        agents=_agents(payload.agents),
        email_address=payload.email_address,
        is_default=payload.is_default,
    )
    return Status(201, QueueOut.model_validate(queue_out(queue)).model_dump(mode="json"))


def _get_queue(request: HttpRequest, public_id: uuid.UUID) -> Queue:
    access.require_staff(request.user)
    queue = Queue.objects.prefetch_related("agents").filter(public_id=public_id).first()
    if queue is None:
        raise NotFound("No such queue.")
    return queue


@router.get("/queues/{public_id}", response=QueueOut, url_name="get_queue")
def get_queue(request: HttpRequest, public_id: uuid.UUID):
    return queue_out(_get_queue(request, public_id))


@router.patch("/queues/{public_id}", response=QueueOut, url_name="update_queue")
def update_queue(request: HttpRequest, public_id: uuid.UUID, payload: QueuePatch):
    queue = _get_queue(request, public_id)
    access.require_manager(request.user)
    changes = payload.model_dump(exclude_unset=True)
    if "agents" in changes:
        changes["agents"] = _agents(changes["agents"] or [])
    queue = services.update_queue(actor=request.user, queue=queue, changes=changes)
    return queue_out(Queue.objects.prefetch_related("agents").get(pk=queue.pk))


# ---------------------------------------------------------------- inbound mail


class InboundMailQuery(Schema):
    outcome: str | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/inbound-mail", response=InboundMailPage, url_name="list_inbound_mail")
def list_inbound_mail(request: HttpRequest, query: Query[InboundMailQuery]):
    """What became of each inbound message, newest first (managers and admins: senders
    and subjects of mail about any case)."""
    access.require_manager(request.user)
    qs = InboundMail.objects.select_related("case")
    if query.outcome:
        if query.outcome not in InboundMail.Outcome.values:
            raise ValidationFailed.single(
                "outcome", f"Must be one of: {', '.join(InboundMail.Outcome.values)}."
            )
        qs = qs.filter(outcome=query.outcome)
    page = paginate(
        qs, order=("-created_at", "-id"), cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {"items": [inbound_mail_out(m) for m in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------- calendars


@router.get("/calendars", response=CalendarPage, url_name="list_calendars")
def list_calendars(request: HttpRequest, query: Query[PageQuery]):
    access.require_staff(request.user)
    page = paginate(
        BusinessCalendar.objects.prefetch_related("holidays"),
        order=("name", "id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [calendar_out(c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("/calendars", response={201: CalendarOut}, url_name="create_calendar")
@idempotent
def create_calendar(request: HttpRequest, payload: CalendarIn):
    access.require_manager(request.user)
    cal = services.create_calendar(
        actor=request.user,
        name=payload.name,
        timezone=payload.timezone,
        weekly_hours=payload.weekly_hours,
        holidays=[h.model_dump() for h in payload.holidays],
    )
    return Status(201, CalendarOut.model_validate(calendar_out(cal)).model_dump(mode="json"))


def _get_calendar(request: HttpRequest, public_id: uuid.UUID) -> BusinessCalendar:
    access.require_staff(request.user)
    cal = BusinessCalendar.objects.filter(public_id=public_id).first()
    if cal is None:
        raise NotFound("No such calendar.")
    return cal


@router.get("/calendars/{public_id}", response=CalendarOut, url_name="get_calendar")
def get_calendar(request: HttpRequest, public_id: uuid.UUID):
    return calendar_out(_get_calendar(request, public_id))


@router.patch("/calendars/{public_id}", response=CalendarOut, url_name="update_calendar")
def update_calendar(request: HttpRequest, public_id: uuid.UUID, payload: CalendarPatch):
    cal = _get_calendar(request, public_id)
    access.require_manager(request.user)
    sent = payload.model_dump(exclude_unset=True)
    cal = services.update_calendar(
        actor=request.user,
        calendar=cal,
        name=sent.get("name"),
        timezone=sent.get("timezone"),
        weekly_hours=sent.get("weekly_hours"),
        holidays=sent.get("holidays"),
    )
    return calendar_out(cal)


@router.delete("/calendars/{public_id}", response={204: None}, url_name="delete_calendar")
def delete_calendar(request: HttpRequest, public_id: uuid.UUID):
    cal = _get_calendar(request, public_id)
    access.require_manager(request.user)
    services.delete_calendar(actor=request.user, calendar=cal)
    return Status(204, None)


# ---------------------------------------------------------------- SLA policies


@router.get("/sla-policies", response=SlaPolicyPage, url_name="list_sla_policies")
def list_sla_policies(request: HttpRequest, query: Query[PageQuery]):
    access.require_staff(request.user)
    page = paginate(
        SlaPolicy.objects.select_related("organization", "calendar"),
        order=("name", "id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [policy_out(p) for p in page.items], "next_cursor": page.next_cursor}


@router.post("/sla-policies", response={201: SlaPolicyOut}, url_name="create_sla_policy")
@idempotent
def create_sla_policy(request: HttpRequest, payload: SlaPolicyIn):
    access.require_manager(request.user)
    policy = services.create_sla_policy(
        actor=request.user,
        name=payload.name,
        priority=payload.priority,
        first_response_minutes=payload.first_response_minutes,
        resolution_minutes=payload.resolution_minutes,
        calendar=_calendar(payload.calendar),
        organization=_party(request, payload.organization, "organization", Party.Kind.ORGANIZATION),
    )
    return Status(201, SlaPolicyOut.model_validate(policy_out(policy)).model_dump(mode="json"))


def _get_policy(request: HttpRequest, public_id: uuid.UUID) -> SlaPolicy:
    access.require_staff(request.user)
    policy = (
        SlaPolicy.objects.select_related("organization", "calendar")
        .filter(public_id=public_id)
        .first()
    )
    if policy is None:
        raise NotFound("No such SLA policy.")
    return policy


@router.get("/sla-policies/{public_id}", response=SlaPolicyOut, url_name="get_sla_policy")
def get_sla_policy(request: HttpRequest, public_id: uuid.UUID):
    return policy_out(_get_policy(request, public_id))


@router.patch("/sla-policies/{public_id}", response=SlaPolicyOut, url_name="update_sla_policy")
def update_sla_policy(request: HttpRequest, public_id: uuid.UUID, payload: SlaPolicyPatch):
    policy = _get_policy(request, public_id)
    access.require_manager(request.user)
    changes = payload.model_dump(exclude_unset=True)
    if "calendar" in changes:
        changes["calendar"] = _calendar(changes["calendar"])
    if "organization" in changes:
        changes["organization"] = _party(
            request, changes["organization"], "organization", Party.Kind.ORGANIZATION
        )
    policy = services.update_sla_policy(actor=request.user, policy=policy, changes=changes)
    return policy_out(policy)


# ---------------------------------------------------------------- CSAT


class CsatResultsQuery(Schema):
    by: str = "agent"


@router.get("/csat/results", response=list[CsatRow], url_name="csat_results")
def csat_results(request: HttpRequest, query: Query[CsatResultsQuery]):
    """Average rating and distribution per ``agent`` or ``queue`` over the cases you may see."""
    access.require_staff(request.user)
    return queries.csat_results(access.scope_cases(request.user), by=query.by)


@router.get("/csat/{token}", response=CsatCaseOut, auth=None, url_name="get_csat")
def get_csat(request: HttpRequest, token: str):
    """Public (no login): what the signed link is for."""
    case = services.case_for_csat_token(token)
    return {
        "number": case.number,
        "token": case.token,
        "subject": case.subject,
        "rated": hasattr(case, "csat"),
    }


@router.post("/csat/{token}", response={201: CsatOut}, auth=None, url_name="submit_csat")
def submit_csat(request: HttpRequest, token: str, payload: CsatIn):
    """Public (no login): rate a resolved case 1–5 with an optional comment, once."""
    with channel("web"):
        response = services.submit_csat(token=token, rating=payload.rating, comment=payload.comment)
    return Status(
        201,
        CsatOut.model_validate(
            {
                "rating": response.rating,
                "comment": response.comment,
                "submitted_at": response.submitted_at,
            }
        ).model_dump(mode="json"),
    )
