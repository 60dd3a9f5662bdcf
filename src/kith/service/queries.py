"""Read models for the service desk: the queue view, SLA clocks, breach and CSAT reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from kith.core.errors import ValidationFailed
from kith.core.inputs import whole_number
from kith.service.businesstime import Schedule
from kith.service.models import (
    NO_DUE,
    OPEN_STATUSES,
    Case,
    CsatResponse,
    Priority,
    SlaBreach,
    Status,
)


@dataclass
class CaseFilters:
    status: list[str] | None = None  # None = open statuses; ["all"] = every status
    queue: str = ""  # public id, or "none"
    assignee: str = ""  # username, "me" or "none"
    priority: str = ""
    breached: bool | None = None
    requester: str = ""  # public id
    q: str = ""


def apply_filters(qs: QuerySet, filters: CaseFilters, *, user=None) -> QuerySet:
    """Narrow a (scoped) case queryset; unknown values are field errors, not silence."""
    statuses = filters.status
    if statuses is None:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif statuses != ["all"]:
        bad = [s for s in statuses if s not in Status.values]
        if bad:
            raise ValidationFailed.single("status", f"Unknown status {bad[0]!r}.")
        qs = qs.filter(status__in=statuses)
    if filters.queue:
        if filters.queue == "none":
            qs = qs.filter(queue__isnull=True)
        else:
            # Resolve the queue first: a constant queue_id lets the planner walk the
            # (queue, next_due_at, id) index instead of joining the queue table.
            from kith.service.models import Queue

            queue_pk = (
                Queue.objects.filter(public_id=_uuid(filters.queue, "queue"))
                .values_list("pk", flat=True)
                .first()
            )
            qs = qs.filter(queue_id=queue_pk) if queue_pk else qs.none()
    if filters.assignee:
        if filters.assignee == "none":
            qs = qs.filter(assignee__isnull=True)
        elif filters.assignee == "me" and user is not None:
            qs = qs.filter(assignee_id=user.pk)
        else:
            qs = qs.filter(assignee__username=filters.assignee)
    if filters.priority:
        if filters.priority not in Priority.values:
            raise ValidationFailed.single("priority", f"One of: {', '.join(Priority.values)}.")
        qs = qs.filter(priority=filters.priority)
    if filters.breached is not None:
        qs = qs.filter(breached=filters.breached)
    if filters.requester:
        qs = qs.filter(requester__public_id=_uuid(filters.requester, "requester"))
    text = (filters.q or "").strip()
    if text:
        number = text.lstrip("#").upper().removeprefix("CASE-")
        condition = Q(subject__icontains=text)
        if (case_number := whole_number(number)) is not None:
            condition |= Q(number=case_number)
        qs = qs.filter(condition)
    return qs


def _uuid(value: str, field: str):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed.single(field, "Not a valid id.") from None


def tag_names(case_ids: list[int]) -> dict[int, list[str]]:
    """Tag names per case for a page of cases, in one query."""
    out: dict[int, list[str]] = {pk: [] for pk in case_ids}
    through = Case.tags.through
    rows = through.objects.filter(case_id__in=case_ids).values_list("case_id", "casetag__name")
    for case_id, name in rows.order_by("casetag__name"):
        out[case_id].append(name)
    return out


def list_queryset(qs: QuerySet) -> QuerySet:
    """A case list: the per-row relations joined (requester; organisation and deal are
    usually empty); call ``attach_shared`` on the page for the few shared rows."""
    return qs.select_related("requester", "organization", "deal").only(
        *[f.name for f in Case._meta.concrete_fields],
        "requester__public_id",
        "requester__display_name",
        "requester__kind",
        "requester__status",
        "organization__public_id",
        "organization__display_name",
        "deal__public_id",
        "deal__title",
    )


def attach_shared(cases: list[Case]) -> list[Case]:
    """Fill queue, assignee and SLA policy (with its calendar) of a page of cases from
    one small query each: a page has a handful of distinct queues, agents and policies,
    and building them once instead of once per row halves the cost of a page."""
    from kith.accounts.models import User
    from kith.service.models import Queue, SlaPolicy

    queues = Queue.objects.in_bulk({c.queue_id for c in cases if c.queue_id})
    users = User.objects.only("id", "username", "public_id").in_bulk(
        {c.assignee_id for c in cases if c.assignee_id}
    )
    policies = SlaPolicy.objects.select_related("calendar").in_bulk(
        {c.sla_policy_id for c in cases if c.sla_policy_id}
    )
    for case in cases:
        case.queue = queues.get(case.queue_id)
        case.assignee = users.get(case.assignee_id)
        case.sla_policy = policies.get(case.sla_policy_id)
    return cases


@dataclass
class Clock:
    """One SLA target as the UI shows it."""

    target: str  # "first_response" | "resolution"
    due_at: dt.datetime | None
    met_at: dt.datetime | None
    breached: bool
    paused: bool
    remaining_seconds: float | None  # business seconds; negative when overdue

    @property
    def state(self) -> str:
        if self.due_at is None:
            return "none"
        if self.met_at is not None:
            return "missed" if self.breached else "met"
        if self.breached or (self.remaining_seconds is not None and self.remaining_seconds < 0):
            return "breached"
        if self.paused:
            return "paused"
        return "running"


def clocks(
    case: Case, *, now: dt.datetime | None = None, schedule: Schedule | None = None
) -> list[Clock]:
    """The first-response and resolution clocks of ``case``, time left in business time.

    While the case is pending the customer, time left is frozen at what it was when it
    paused (the due times move forward when it resumes).
    """
    now = now or timezone.now()
    if schedule is None:
        from kith.service.services import schedule_for

        schedule = schedule_for(case.sla_policy) if case.sla_policy_id else Schedule.always()
    paused = case.status == Status.PENDING_CUSTOMER and case.paused_at is not None
    stopped = case.status in (Status.RESOLVED, Status.CLOSED)
    reference = case.paused_at if paused else now
    out = []
    for target, due, met, breached in (
        (
            "first_response",
            case.first_response_due_at,
            case.first_responded_at,
            case.first_response_breached,
        ),
        ("resolution", case.resolution_due_at, case.resolved_at, case.resolution_breached),
    ):
        remaining = None
        if due is not None and met is None and not stopped:
            remaining = schedule.seconds_between(reference, due)
        out.append(
            Clock(
                target=target,
                due_at=due,
                met_at=met,
                breached=breached,
                paused=paused,
                remaining_seconds=remaining,
            )
        )
    return out


def next_clock(case: Case, *, now: dt.datetime | None = None) -> Clock | None:
    """The clock the queue view shows: first response until answered, then resolution."""
    if case.next_due_at is None or case.next_due_at == NO_DUE:
        return None
    for clock in clocks(case, now=now):
        if clock.due_at == case.next_due_at and clock.met_at is None:
            return clock
    return None


def format_duration(seconds: float | None) -> str:
    """Business time as hours and minutes: ``5400`` → ``1h 30m``.

    No days: a "day" of business time (8 h? 24 h?) reads ambiguously, hours do not.
    Negative values read as overdue by the caller.
    """
    if seconds is None:
        return ""
    total = int(abs(seconds) // 60)
    hours, minutes = divmod(total, 60)
    if hours >= 100:
        return f"{hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def breach_report(cases: QuerySet, *, since: dt.datetime | None = None) -> dict:
    """Breaches of the visible ``cases``, counted per queue and per agent, plus the rows."""
    breaches = SlaBreach.objects.filter(case__in=cases.values("pk"))
    if since is not None:
        breaches = breaches.filter(breached_at__gte=since)
    per_queue = list(
        breaches.values("queue__public_id", "queue__name")
        .annotate(total=Count("id"), first_response=Count("id", filter=Q(kind="first_response")))
        .order_by("-total", "queue__name")
    )
    per_agent = list(
        breaches.values("assignee__username")
        .annotate(total=Count("id"), first_response=Count("id", filter=Q(kind="first_response")))
        .order_by("-total", "assignee__username")
    )
    return {
        "per_queue": [
            {
                "queue": str(r["queue__public_id"]) if r["queue__public_id"] else None,
                "queue_name": r["queue__name"] or "(no queue)",
                "total": r["total"],
                "first_response": r["first_response"],
                "resolution": r["total"] - r["first_response"],
            }
            for r in per_queue
        ],
        "per_agent": [
            {
                "agent": r["assignee__username"],
                "total": r["total"],
                "first_response": r["first_response"],
                "resolution": r["total"] - r["first_response"],
            }
            for r in per_agent
        ],
        "breaches": breaches.select_related("case", "queue", "assignee"),
    }


def csat_results(cases: QuerySet, *, by: str = "agent") -> list[dict]:
    """Average rating and the 1–5 distribution of visible cases, per agent or queue."""
    if by not in ("agent", "queue"):
        raise ValidationFailed.single("by", "Either agent or queue.")
    responses = CsatResponse.objects.filter(case__in=cases.values("pk"))
    key = "agent__username" if by == "agent" else "queue__name"
    rows = (
        responses.values(key)
        .annotate(
            count=Count("id"),
            average=Avg("rating"),
            **{f"r{i}": Count("id", filter=Q(rating=i)) for i in range(1, 6)},
        )
        .order_by(key)
    )
    return [
        {
            "group": r[key] or ("(unassigned)" if by == "agent" else "(no queue)"),
            "count": r["count"],
            "average": round(float(r["average"] or 0), 2),
            "distribution": [r[f"r{i}"] for i in range(1, 6)],
            "satisfied_percent": round(100 * (r["r4"] + r["r5"]) / r["count"], 1)
            if r["count"]
            else 0,
        }
        for r in rows
    ]


def deflection_report(*, since: dt.datetime | None = None) -> dict:
    """How often community answers shown before a case kept the case from being opened.

    ``offered``: times suggestions were shown; ``viewed``: a suggested answer was opened;
    ``deflected``: viewed (or confirmed) and no case followed; ``confirmed``: the customer
    said an answer solved it; ``submitted``: a case was opened anyway. ``rate`` is
    deflected / offered (0 when nothing was offered).
    """
    from kith.service.models import Deflection

    rows = Deflection.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    no_case = Q(case__isnull=True)
    totals = rows.aggregate(
        offered=Count("id"),
        viewed=Count("id", filter=Q(viewed_at__isnull=False)),
        confirmed=Count("id", filter=Q(confirmed_at__isnull=False) & no_case),
        deflected=Count(
            "id", filter=no_case & (Q(viewed_at__isnull=False) | Q(confirmed_at__isnull=False))
        ),
        submitted=Count("id", filter=Q(case__isnull=False)),
    )
    totals["rate"] = round(totals["deflected"] / totals["offered"], 4) if totals["offered"] else 0.0
    return totals
