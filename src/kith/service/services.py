"""Business rules of the service desk: every write goes through here.

Each public function is keyword-only, runs in one transaction, writes an audit entry
and queues a domain event (``case.created``, ``case.status_changed``,
``case.assigned``, ``case.resolved``, ``case.sla_breached``…). Functions that stand
for something that happened at a known time take ``at`` (default: now) so imports and
the demo can replay history through the same rules.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from kith.accounts import assignment
from kith.core import audit, events, timezones, trash
from kith.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from kith.core.models import TrashItem
from kith.interactions import services as interaction_services
from kith.interactions.models import Channel, Direction
from kith.people.models import Party
from kith.service.businesstime import NoWorkingTime, Schedule, parse_hhmm
from kith.service.models import (
    NO_DUE,
    OPEN_STATUSES,
    BusinessCalendar,
    Case,
    CaseMessage,
    CaseTag,
    Counter,
    CsatResponse,
    Deflection,
    Holiday,
    Origin,
    Priority,
    Queue,
    SlaBreach,
    SlaPolicy,
    Status,
    StatusChange,
)

TIMELINE_SOURCE = "kith.service"
CSAT_SALT = "kith.service.csat"
CSAT_MAX_AGE = 60 * 60 * 24 * 30  # a rating link works for 30 days

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED}),
    Status.OPEN: frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED}),
    Status.PENDING_CUSTOMER: frozenset({Status.OPEN, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.OPEN}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
# Interaction kinds written for the conversation; notes are internal.
INTERACTION_KINDS = {
    CaseMessage.Kind.INBOUND: "case_message",
    CaseMessage.Kind.REPLY: "case_reply",
    CaseMessage.Kind.NOTE: "case_internal_note",
}
INTERNAL_INTERACTION_KINDS = frozenset({"case_internal_note"})
MAX_BODY = 100_000


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise ValidationFailed.single("at", "Must include a time zone.")
    return at


def _user_ok(user) -> bool:
    return getattr(user, "is_authenticated", False)


# ---------------------------------------------------------------- calendars


def _clean_weekly_hours(raw: Any) -> dict[str, list[list[str]]]:
    if not isinstance(raw, dict):
        raise ValidationFailed.single("weekly_hours", "Must map weekday 0–6 to [[start, end]].")
    cleaned: dict[str, list[list[str]]] = {}
    for day, spans in raw.items():
        try:
            number = int(day)
        except (TypeError, ValueError):
            number = -1
        if not 0 <= number <= 6:
            raise ValidationFailed.single("weekly_hours", f"{day!r} is not a weekday 0–6.")
        if not isinstance(spans, list | tuple):
            raise ValidationFailed.single("weekly_hours", f"Day {day}: a list of [start, end].")
        out = []
        for span in spans:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise ValidationFailed.single(
                    "weekly_hours", f"Day {day}: each span is [start, end]."
                )
            try:
                start, end = parse_hhmm(span[0]), parse_hhmm(span[1])
            except ValueError as exc:
                raise ValidationFailed.single("weekly_hours", f"Day {day}: {exc}") from exc
            if start == end and start != dt.time(0):
                raise ValidationFailed.single("weekly_hours", f"Day {day}: empty span.")
            out.append(
                [
                    start.strftime("%H:%M"),
                    str(span[1]).strip()
                    if str(span[1]).strip() == "24:00"
                    else end.strftime("%H:%M"),
                ]
            )
        out.sort()
        # Same-day spans must not overlap (overnight spans may run into the next day).
        same_day = [(parse_hhmm(a), parse_hhmm(b)) for a, b in out]
        for (a1, b1), (a2, _b2) in itertools.pairwise(same_day):
            if b1 <= a1 or a2 < b1:
                raise ValidationFailed.single(
                    "weekly_hours", f"Day {day}: spans overlap or an overnight span is not last."
                )
        cleaned[str(number)] = out
    return cleaned


def _clean_timezone(value: str) -> str:
    # The tz database's list of names, not ZoneInfo(): that raises OSError for a folder
    # ("Etc", "America") and accepts files that are no zones ("posixrules").
    return timezones.require_valid(value, "timezone")


def _clean_holidays(raw: Iterable[Any] | None) -> list[tuple[dt.date, str]]:
    out: dict[dt.date, str] = {}
    for item in raw or []:
        if isinstance(item, dict):
            day, name = item.get("date"), str(item.get("name") or "")[:120]
        else:
            day, name = item, ""
        if not isinstance(day, dt.date):
            try:
                day = dt.date.fromisoformat(str(day))
            except ValueError:
                raise ValidationFailed.single("holidays", f"{day!r} is not a date.") from None
        out[day] = name
    return sorted(out.items())


def create_calendar(
    *, actor, name: str, timezone: str = "UTC", weekly_hours: dict, holidays: Iterable | None = None
) -> BusinessCalendar:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed.single("name", "Between 1 and 120 characters.")
    tz = _clean_timezone(timezone)
    hours = _clean_weekly_hours(weekly_hours)
    days = _clean_holidays(holidays)
    with transaction.atomic():
        if BusinessCalendar.objects.filter(name=name).exists():
            raise ValidationFailed.single("name", "A calendar with this name exists.")
        cal = BusinessCalendar.objects.create(name=name, timezone=tz, weekly_hours=hours)
        Holiday.objects.bulk_create(Holiday(calendar=cal, date=d, name=n) for d, n in days)
        audit.record(
            actor=actor,
            action="calendar.created",
            obj=cal,
            changes={"timezone": tz, "weekly_hours": hours, "holidays": [d for d, _ in days]},
        )
        events.emit("calendar.created", obj=cal, actor=actor, data={"name": name})
    return cal


def update_calendar(
    *,
    actor,
    calendar: BusinessCalendar,
    name: str | None = None,
    timezone: str | None = None,
    weekly_hours: dict | None = None,
    holidays: Iterable | None = None,
) -> BusinessCalendar:
    """Change a calendar. Due times of open cases are not recomputed: an SLA is the
    promise made when the case came in."""
    changes: dict[str, Any] = {}
    with transaction.atomic():
        cal = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
        if name is not None:
            name = name.strip()
            if not name or len(name) > 120:
                raise ValidationFailed.single("name", "Between 1 and 120 characters.")
            if BusinessCalendar.objects.filter(name=name).exclude(pk=cal.pk).exists():
                raise ValidationFailed.single("name", "A calendar with this name exists.")
            changes["name"] = [cal.name, name]
            cal.name = name
        if timezone is not None:
            tz = _clean_timezone(timezone)
            changes["timezone"] = [cal.timezone, tz]
            cal.timezone = tz
        if weekly_hours is not None:
            hours = _clean_weekly_hours(weekly_hours)
            changes["weekly_hours"] = [cal.weekly_hours, hours]
            cal.weekly_hours = hours
        cal.save()
        if holidays is not None:
            days = _clean_holidays(holidays)
            cal.holidays.all().delete()
            Holiday.objects.bulk_create(Holiday(calendar=cal, date=d, name=n) for d, n in days)
            changes["holidays"] = [d for d, _ in days]
        audit.record(actor=actor, action="calendar.updated", obj=cal, changes=changes)
        events.emit("calendar.updated", obj=cal, actor=actor, data={"fields": sorted(changes)})
    return cal


def delete_calendar(*, actor, calendar: BusinessCalendar) -> None:
    with transaction.atomic():
        if calendar.policies.exists():
            raise Conflict("SLA policies use this calendar; change them first.")
        audit.record(actor=actor, action="calendar.deleted", obj=calendar)
        events.emit("calendar.deleted", obj=calendar, actor=actor)
        calendar.delete()


# ---------------------------------------------------------------- SLA policies


def _check_policy(
    *, priority: str, first_response_minutes: int, resolution_minutes: int, name: str
) -> list[FieldError]:
    errors = []
    if priority not in Priority.values:
        errors.append(FieldError("priority", f"Must be one of: {', '.join(Priority.values)}."))
    if not name or len(name) > 120:
        errors.append(FieldError("name", "Between 1 and 120 characters."))
    for key, value in (
        ("first_response_minutes", first_response_minutes),
        ("resolution_minutes", resolution_minutes),
    ):
        if not isinstance(value, int) or value < 1 or value > 525_600:
            errors.append(FieldError(key, "Minutes between 1 and 525600 (a year)."))
    return errors


def _policy_clash(priority: str, organization: Party | None, exclude: int | None = None) -> bool:
    qs = SlaPolicy.objects.filter(priority=priority, organization=organization, active=True)
    if exclude:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


def create_sla_policy(
    *,
    actor,
    name: str,
    priority: str,
    first_response_minutes: int,
    resolution_minutes: int,
    calendar: BusinessCalendar | None = None,
    organization: Party | None = None,
) -> SlaPolicy:
    name = (name or "").strip()
    errors = _check_policy(
        priority=priority,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
        name=name,
    )
    if organization is not None and organization.kind != Party.Kind.ORGANIZATION:
        errors.append(FieldError("organization", "Must be an organisation."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        if _policy_clash(priority, organization):
            raise ValidationFailed.single(
                "priority", "An active policy already covers this priority and organisation."
            )
        policy = SlaPolicy.objects.create(
            name=name,
            priority=priority,
            organization=organization,
            calendar=calendar,
            first_response_minutes=first_response_minutes,
            resolution_minutes=resolution_minutes,
        )
        audit.record(
            actor=actor,
            action="sla_policy.created",
            obj=policy,
            changes={
                "priority": priority,
                "first_response_minutes": first_response_minutes,
                "resolution_minutes": resolution_minutes,
                "calendar": calendar,
                "organization": organization,
            },
        )
        events.emit("sla_policy.created", obj=policy, actor=actor, data={"priority": priority})
    return policy


def update_sla_policy(*, actor, policy: SlaPolicy, changes: dict[str, Any]) -> SlaPolicy:
    """Change targets or calendar (for new cases; open cases keep their due times)."""
    allowed = {
        "name",
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "calendar",
        "organization",
        "active",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    with transaction.atomic():
        current = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
        before = {k: getattr(current, k) for k in allowed}
        for key, value in changes.items():
            setattr(current, key, value)
        current.name = (current.name or "").strip()
        errors = _check_policy(
            priority=current.priority,
            first_response_minutes=current.first_response_minutes,
            resolution_minutes=current.resolution_minutes,
            name=current.name,
        )
        if errors:
            raise ValidationFailed(errors=errors)
        if current.active and _policy_clash(
            current.priority, current.organization, exclude=current.pk
        ):
            raise ValidationFailed.single(
                "priority", "An active policy already covers this priority and organisation."
            )
        current.save()
        after = {k: getattr(current, k) for k in allowed}
        audit.record(
            actor=actor, action="sla_policy.updated", obj=current, changes=audit.diff(before, after)
        )
        events.emit("sla_policy.updated", obj=current, actor=actor)
    return current


def select_policy(priority: str, organization: Party | None) -> SlaPolicy | None:
    """The most specific active policy: this organisation's, else the priority default."""
    qs = SlaPolicy.objects.filter(active=True, priority=priority).select_related("calendar")
    if organization is not None:
        found = qs.filter(organization=organization).first()
        if found is not None:
            return found
    return qs.filter(organization__isnull=True).first()


_SCHEDULES: dict[tuple[int, Any], Schedule] = {}


def schedule_for(policy: SlaPolicy | None) -> Schedule:
    """The policy's calendar in memory, cached per process by (calendar, updated_at):
    every change to a calendar (hours, holidays) saves it, which moves ``updated_at``."""
    if policy is None or policy.calendar_id is None:
        return _ALWAYS
    cal = policy.calendar
    key = (cal.pk, cal.updated_at)
    found = _SCHEDULES.get(key)
    if found is None:
        if len(_SCHEDULES) > 256:
            _SCHEDULES.clear()
        found = _SCHEDULES[key] = cal.schedule()
    return found


_ALWAYS = Schedule.always()


# ---------------------------------------------------------------- queues


def _agents(raw: Iterable[Any] | None) -> list:
    from kith.accounts.models import User

    out = []
    for user in raw or []:
        if not isinstance(user, User) or not user.is_staff_user:
            raise ValidationFailed.single("agents", "Agents must be active staff users.")
        out.append(user)
    return out


def create_queue(
    *,
    actor,
    name: str,
    description: str = "",
    assignment_rule: str = Queue.Rule.NONE,
    agents: Iterable | None = None,
    email_address: str = "",
    is_default: bool = False,
) -> Queue:
    name = (name or "").strip()
    errors = []
    if not name or len(name) > 120:
        errors.append(FieldError("name", "Between 1 and 120 characters."))
    if assignment_rule not in Queue.Rule.values:
        errors.append(FieldError("assignment_rule", f"One of: {', '.join(Queue.Rule.values)}."))
    email_address = _clean_address(email_address, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    members = _agents(agents)
    with transaction.atomic():
        if Queue.objects.filter(name=name).exists():
            raise ValidationFailed.single("name", "A queue with this name exists.")
        if is_default:
            Queue.objects.filter(is_default=True).update(is_default=False)
        queue = Queue.objects.create(
            name=name,
            description=(description or "")[:300],
            assignment_rule=assignment_rule,
            email_address=email_address,
            is_default=is_default,
        )
        queue.agents.set(members)
        audit.record(
            actor=actor,
            action="queue.created",
            obj=queue,
            changes={"assignment_rule": assignment_rule, "agents": [u.username for u in members]},
        )
        events.emit("queue.created", obj=queue, actor=actor, data={"name": name})
    return queue


def _clean_address(value: str, errors: list[FieldError]) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    from kith.people.normalize import InvalidContactPoint, normalize_email

    try:
        return normalize_email(value)
    except InvalidContactPoint:
        errors.append(FieldError("email_address", "Not a valid e-mail address."))
        return ""


def update_queue(*, actor, queue: Queue, changes: dict[str, Any]) -> Queue:
    allowed = {"name", "description", "assignment_rule", "agents", "email_address", "is_default"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    errors: list[FieldError] = []
    with transaction.atomic():
        current = Queue.objects.select_for_update().get(pk=queue.pk)
        before = {
            "name": current.name,
            "description": current.description,
            "assignment_rule": current.assignment_rule,
            "email_address": current.email_address,
            "is_default": current.is_default,
            "agents": sorted(current.agents.values_list("username", flat=True)),
        }
        if "name" in changes:
            name = (changes["name"] or "").strip()
            if not name or len(name) > 120:
                errors.append(FieldError("name", "Between 1 and 120 characters."))
            elif Queue.objects.filter(name=name).exclude(pk=current.pk).exists():
                errors.append(FieldError("name", "A queue with this name exists."))
            current.name = name
        if "description" in changes:
            current.description = (changes["description"] or "")[:300]
        if "assignment_rule" in changes:
            if changes["assignment_rule"] not in Queue.Rule.values:
                errors.append(
                    FieldError("assignment_rule", f"One of: {', '.join(Queue.Rule.values)}.")
                )
            current.assignment_rule = changes["assignment_rule"]
        if "email_address" in changes:
            current.email_address = _clean_address(changes["email_address"], errors)
        if errors:
            raise ValidationFailed(errors=errors)
        if changes.get("is_default"):
            Queue.objects.filter(is_default=True).exclude(pk=current.pk).update(is_default=False)
        if "is_default" in changes:
            current.is_default = bool(changes["is_default"])
        current.save()
        if "agents" in changes:
            current.agents.set(_agents(changes["agents"]))
        after = {
            "name": current.name,
            "description": current.description,
            "assignment_rule": current.assignment_rule,
            "email_address": current.email_address,
            "is_default": current.is_default,
            "agents": sorted(current.agents.values_list("username", flat=True)),
        }
        audit.record(
            actor=actor, action="queue.updated", obj=current, changes=audit.diff(before, after)
        )
        events.emit("queue.updated", obj=current, actor=actor)
    return current


def _eligible_agents(queue: Queue) -> list:
    """Agents who can take cases: active staff members of the queue who may write."""
    return [
        u for u in queue.agents.filter(is_active=True, kind="staff").order_by("id") if u.can_write
    ]


def pick_agent(queue: Queue) -> Any:
    """The next agent by the queue's rule (call inside a transaction; locks the queue).

    Round robin takes the member after the last one assigned (by id, wrapping);
    least loaded takes the member with the fewest open cases (ties: lowest id).
    """
    if queue.assignment_rule == Queue.Rule.NONE:
        return None
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    agents = _eligible_agents(locked)
    if not agents:
        return None
    if locked.assignment_rule == Queue.Rule.ROUND_ROBIN:
        chosen = agents[0]
        if locked.last_assigned_id is not None:
            later = [a for a in agents if a.pk > locked.last_assigned_id]
            chosen = later[0] if later else agents[0]
    else:
        load = dict(
            Case.objects.filter(assignee__in=agents, status__in=OPEN_STATUSES)
            .values("assignee")
            .annotate(n=Count("id"))
            .values_list("assignee", "n")
        )
        chosen = min(agents, key=lambda a: (load.get(a.pk, 0), a.pk))
    Queue.objects.filter(pk=locked.pk).update(last_assigned=chosen)
    queue.last_assigned = chosen
    return chosen


# ---------------------------------------------------------------- cases: SLA


def _next_number() -> int:
    counter, _ = Counter.objects.select_for_update().get_or_create(name="case")
    if counter.value == 0:
        # Continue after existing cases (bulk loads write numbers themselves).
        top = Case.objects.order_by("-number").values_list("number", flat=True).first() or 0
        counter.value = top
    counter.value += 1
    counter.save(update_fields=["value"])
    return counter.value


def _compute_due(case: Case, policy: SlaPolicy | None) -> None:
    """Fill the due times from the policy: targets from ``created_at`` plus paused time."""
    case.sla_policy = policy
    if policy is None:
        case.first_response_due_at = case.resolution_due_at = None
    else:
        sched = schedule_for(policy)
        try:
            case.first_response_due_at = sched.add(
                case.created_at, policy.first_response_minutes * 60 + case.paused_seconds
            )
            case.resolution_due_at = sched.add(
                case.created_at, policy.resolution_minutes * 60 + case.paused_seconds
            )
        except NoWorkingTime:
            raise ValidationFailed.single(
                "calendar", "The SLA policy's calendar has no working hours."
            ) from None
    _set_next_due(case)


def _set_next_due(case: Case) -> None:
    if case.status not in OPEN_STATUSES:
        case.next_due_at = NO_DUE
    elif case.first_responded_at is None and case.first_response_due_at is not None:
        case.next_due_at = case.first_response_due_at
    else:
        case.next_due_at = case.resolution_due_at or NO_DUE


def _record_breach(case: Case, kind: str, due: dt.datetime, at: dt.datetime, actor=None) -> bool:
    """Flag one missed target; False when it was already flagged."""
    if SlaBreach.objects.filter(case=case, kind=kind).exists():
        return False
    SlaBreach.objects.create(
        case=case, kind=kind, due_at=due, breached_at=at, queue=case.queue, assignee=case.assignee
    )
    if kind == SlaBreach.Kind.FIRST_RESPONSE:
        case.first_response_breached = True
    else:
        case.resolution_breached = True
    case.breached = True
    audit.record(
        actor=actor,
        action="case.sla_breached",
        obj=case,
        changes={"target": kind, "due_at": due},
        party_id=case.requester_id,
    )
    events.emit(
        "case.sla_breached",
        obj=case,
        actor=actor,
        data={"target": kind, "due_at": due, "number": case.number},
    )
    return True


# ---------------------------------------------------------------- cases


@dataclass
class CaseInput:
    subject: str = ""
    description: str = ""
    requester: Party | None = None
    organization: Party | None = None
    origin: str = Origin.WEB
    priority: str = Priority.NORMAL
    queue: Queue | None = None
    assignee: Any = None
    tags: list[str] | None = None
    deal: Any = None


def _check_case(data: CaseInput, *, creating: bool) -> list[FieldError]:
    errors = []
    subject = " ".join((data.subject or "").split())
    if creating or data.subject is not None:
        if not subject:
            errors.append(FieldError("subject", "This field is required."))
        elif len(subject) > 300:
            errors.append(FieldError("subject", "At most 300 characters."))
    if data.description and len(data.description) > MAX_BODY:
        errors.append(FieldError("description", f"At most {MAX_BODY} characters."))
    if creating and data.requester is None:
        errors.append(FieldError("requester", "This field is required."))
    if data.requester is not None:
        if data.requester.kind != Party.Kind.PERSON:
            errors.append(FieldError("requester", "Must be a person."))
        elif data.requester.status != Party.Status.ACTIVE:
            errors.append(FieldError("requester", "That person was merged or erased."))
    if data.organization is not None and data.organization.kind != Party.Kind.ORGANIZATION:
        errors.append(FieldError("organization", "Must be an organisation."))
    if data.origin is not None and data.origin not in Origin.values:
        errors.append(FieldError("origin", f"Must be one of: {', '.join(Origin.values)}."))
    if data.priority is not None and data.priority not in Priority.values:
        errors.append(FieldError("priority", f"Must be one of: {', '.join(Priority.values)}."))
    if data.assignee is not None and not getattr(data.assignee, "can_write", False):
        errors.append(FieldError("assignee", "Must be an active staff user who can work cases."))
    return errors


def _clean_tags(names: Iterable[str] | None) -> list[str]:
    out = []
    for raw in names or []:
        tag = " ".join(str(raw).split()).lower()
        if not tag:
            continue
        if len(tag) > 60:
            raise ValidationFailed.single("tags", "Each tag at most 60 characters.")
        if tag not in out:
            out.append(tag)
    return out


def _set_tags(case: Case, names: list[str]) -> None:
    tags = []
    for name in names:
        tag, _ = CaseTag.objects.get_or_create(name=name)
        tags.append(tag)
    case.tags.set(tags)


def create_case(*, actor, data: CaseInput, at: dt.datetime | None = None) -> Case:
    """Open a case: number, SLA due times from the matching policy, auto-assignment."""
    when = _now(at)
    errors = _check_case(data, creating=True)
    tags: list[str] = []
    try:
        tags = _clean_tags(data.tags)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors=errors)
    _check_assignee(actor, data.assignee, data.queue)
    with transaction.atomic():
        case = Case(
            number=_next_number(),
            subject=" ".join(data.subject.split()),
            description=data.description or "",
            requester=data.requester,
            organization=data.organization,
            origin=data.origin,
            priority=data.priority,
            queue=data.queue,
            assignee=data.assignee,
            deal=data.deal,
            status=Status.NEW,
            last_activity_at=when,
        )
        case.created_at = when
        _compute_due(case, select_policy(case.priority, case.organization))
        if case.assignee is None and case.queue is not None:
            case.assignee = pick_agent(case.queue)
        case.save()
        # auto_now_add overrides created_at on insert; put the real time back.
        if abs((case.created_at - when).total_seconds()) > 0.001:
            Case.objects.filter(pk=case.pk).update(created_at=when)
            case.created_at = when
        if tags:
            _set_tags(case, tags)
        StatusChange.objects.create(
            case=case, to_status=Status.NEW, actor=_actor(actor), occurred_at=when
        )
        audit.record(
            actor=actor,
            action="case.created",
            obj=case,
            changes={
                "subject": case.subject,
                "priority": case.priority,
                "queue": case.queue,
                "assignee": case.assignee.username if case.assignee else None,
                "first_response_due_at": case.first_response_due_at,
                "resolution_due_at": case.resolution_due_at,
            },
            party_id=case.requester_id,
        )
        events.emit(
            "case.created",
            obj=case,
            actor=actor,
            data={
                "number": case.number,
                "requester": str(case.requester.public_id),
                "priority": case.priority,
                "queue": str(case.queue.public_id) if case.queue else None,
            },
        )
        if case.assignee is not None:
            events.emit(
                "case.assigned",
                obj=case,
                actor=actor,
                data={
                    "assignee": case.assignee.username,
                    "previous": None,
                    "auto": data.assignee is None,
                },
            )
    return case


def _actor(actor):
    return actor if _user_ok(actor) else None


def update_case(*, actor, case: Case, changes: dict[str, Any]) -> Case:
    """Edit fields. A new priority or organisation re-selects the SLA policy and recomputes
    the due times from the case's creation (already flagged breaches stay)."""
    allowed = {
        "subject",
        "description",
        "priority",
        "origin",
        "organization",
        "queue",
        "tags",
        "deal",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    probe = CaseInput(
        subject=changes.get("subject"),
        description=changes.get("description"),
        priority=changes.get("priority"),
        origin=changes.get("origin"),
        organization=changes.get("organization"),
    )
    errors = _check_case(probe, creating=False)
    if errors:
        raise ValidationFailed(errors=errors)
    tags = _clean_tags(changes["tags"]) if changes.get("tags") is not None else None
    with transaction.atomic():
        current = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        before = {k: getattr(current, k) for k in allowed - {"tags"}}
        before["tags"] = sorted(current.tags.values_list("name", flat=True))
        for key in ("subject", "description", "priority", "origin"):
            if changes.get(key) is not None:
                value = changes[key]
                setattr(current, key, " ".join(value.split()) if key == "subject" else value)
        if "organization" in changes:
            current.organization = changes["organization"]
        if "queue" in changes:
            current.queue = changes["queue"]
        if "deal" in changes:
            current.deal = changes["deal"]
        if "priority" in changes or "organization" in changes:
            policy = select_policy(current.priority, current.organization)
            if policy != current.sla_policy or "priority" in changes:
                _compute_due(current, policy)
        current.save()
        if tags is not None:
            _set_tags(current, tags)
        after = {k: getattr(current, k) for k in allowed - {"tags"}}
        after["tags"] = sorted(current.tags.values_list("name", flat=True))
        delta = audit.diff(before, after)
        audit.record(
            actor=actor,
            action="case.updated",
            obj=current,
            changes=delta,
            party_id=current.requester_id,
        )
        events.emit("case.updated", obj=current, actor=actor, data={"fields": sorted(delta)})
        if "queue" in delta and current.assignee is None and current.queue is not None:
            chosen = pick_agent(current.queue)
            if chosen is not None:
                _assign(current, chosen, actor=actor, auto=True)
    return current


def _assign(case: Case, assignee, *, actor, auto: bool = False) -> None:
    previous = case.assignee
    case.assignee = assignee
    case.save(update_fields=["assignee", "updated_at"])
    audit.record(
        actor=actor,
        action="case.assigned",
        obj=case,
        changes={
            "assignee": [
                previous.username if previous else None,
                assignee.username if assignee else None,
            ]
        },
        party_id=case.requester_id,
    )
    events.emit(
        "case.assigned",
        obj=case,
        actor=actor,
        data={
            "assignee": assignee.username if assignee else None,
            "previous": previous.username if previous else None,
            "auto": auto,
        },
    )


def _check_assignee(actor, assignee, queue) -> None:
    """Agents give cases to themselves or an agent of the case's queue
    (``kith.accounts.assignment``); admins and managers to any staff user."""
    allowed = set(queue.agents.values_list("pk", flat=True)) if queue is not None else set()
    assignment.check_assignee(actor if _user_ok(actor) else None, assignee, allowed_ids=allowed)


def assign_case(*, actor, case: Case, assignee) -> Case:
    """Give the case to ``assignee`` (None unassigns)."""
    if assignee is not None and not getattr(assignee, "can_write", False):
        raise ValidationFailed.single(
            "assignee", "Must be an active staff user who can work cases."
        )
    with transaction.atomic():
        current = (
            Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case.pk)
        )
        if current.assignee_id == getattr(assignee, "pk", None):
            return current
        _check_assignee(actor, assignee, current.queue)
        _assign(current, assignee, actor=actor)
    return current


def change_status(*, actor, case: Case, status: str, at: dt.datetime | None = None) -> Case:
    """Move the case along its workflow; illegal moves are a 422 on ``status``.

    Leaving ``pending_customer`` (or reopening a resolved/closed case) adds the business
    time the clock stood still to ``paused_seconds`` and shifts the due times by it.
    """
    when = _now(at)
    if status not in Status.values:
        raise ValidationFailed.single("status", f"Must be one of: {', '.join(Status.values)}.")
    with transaction.atomic():
        current = (
            Case.objects.select_for_update(of=("self",))
            .select_related("sla_policy__calendar", "requester", "queue", "assignee")
            .get(pk=case.pk)
        )
        old = current.status
        if status == old:
            return current
        if status not in ALLOWED_TRANSITIONS[old]:
            allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[old])) or "none"
            raise ValidationFailed.single(
                "status", f"Cannot go from {old} to {status}; allowed: {allowed}."
            )
        sched = schedule_for(current.sla_policy)
        # Stop the clock.
        if status == Status.PENDING_CUSTOMER:
            current.paused_at = when
        # Restart the clock: pending → open/resolved, or a reopen after resolution.
        stopped_since = None
        if old == Status.PENDING_CUSTOMER and current.paused_at is not None:
            stopped_since = current.paused_at
        elif old in (Status.RESOLVED, Status.CLOSED) and status == Status.OPEN:
            stopped_since = current.resolved_at or current.closed_at
        if stopped_since is not None and status != Status.RESOLVED:
            current.paused_seconds += max(0.0, sched.seconds_between(stopped_since, when))
            _compute_due(current, current.sla_policy)
        if old == Status.PENDING_CUSTOMER:
            current.paused_at = None
        if status == Status.RESOLVED:
            current.resolved_at = when
            if stopped_since is not None:
                # Resolved straight from pending: the paused time still counts as paused.
                current.paused_seconds += max(0.0, sched.seconds_between(stopped_since, when))
                _compute_due(current, current.sla_policy)
            due = current.resolution_due_at
            if due is not None and when > due:
                _record_breach(current, SlaBreach.Kind.RESOLUTION, due, when, actor)
        if status == Status.CLOSED:
            current.closed_at = when
        if status == Status.OPEN and old in (Status.RESOLVED, Status.CLOSED):
            current.resolved_at = current.closed_at = None
        current.status = status
        current.last_activity_at = when
        _set_next_due(current)
        current.save()
        StatusChange.objects.create(
            case=current, from_status=old, to_status=status, actor=_actor(actor), occurred_at=when
        )
        audit.record(
            actor=actor,
            action="case.status_changed",
            obj=current,
            changes={"status": [old, status]},
            party_id=current.requester_id,
        )
        events.emit(
            "case.status_changed",
            obj=current,
            actor=actor,
            data={"from": old, "to": status, "number": current.number},
        )
        if status == Status.RESOLVED:
            events.emit(
                "case.resolved",
                obj=current,
                actor=actor,
                data={"number": current.number, "breached": current.breached},
            )
            transaction.on_commit(lambda pk=current.pk: _enqueue("send_csat_invite", pk))
    return current


def delete_case(*, actor, case: Case) -> TrashItem:
    """Delete ``case`` (its messages and history go with it) into the trash."""
    with transaction.atomic():
        audit.record(actor=actor, action="case.deleted", obj=case, party_id=case.requester_id)
        events.emit("case.deleted", obj=case, actor=actor, data={"number": case.number})
        item = trash.put(
            actor=actor,
            kind="case",
            obj=case,
            label=f"#{case.number} {case.subject}",
            party_id=case.requester_id,
        )
        case.delete()
    return item


def _enqueue(task_name: str, *args) -> None:
    """Queue a background task after commit (import here: tasks import services)."""
    from kith.service import tasks

    getattr(tasks, task_name).enqueue(*args)


# ---------------------------------------------------------------- conversation


def _thread_headers(case: Case) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next outbound message on ``case``.

    It answers the customer's latest message (or our latest reply when they never
    wrote by mail); References is that message's own chain plus its id, as RFC 5322
    §3.6.4 describes.
    """
    public = CaseMessage.objects.public().filter(case=case).exclude(message_id="")
    parent = public.filter(kind=CaseMessage.Kind.INBOUND).order_by("-occurred_at", "-id").first()
    if parent is None:
        parent = public.order_by("-occurred_at", "-id").first()
    if parent is None:
        return "", []
    refs = parent.references.split() if parent.references else []
    if parent.in_reply_to and parent.in_reply_to not in refs:
        refs.append(parent.in_reply_to)
    refs.append(parent.message_id)
    # Keep the thread's root and the newest ids: some servers reject endless headers.
    if len(refs) > 20:
        refs = refs[:1] + refs[-19:]
    return parent.message_id, refs


def _summary(case: Case, kind: str, body: str) -> str:
    label = {
        CaseMessage.Kind.INBOUND: "Wrote",
        CaseMessage.Kind.REPLY: "Reply",
        CaseMessage.Kind.NOTE: "Internal note",
    }[kind]
    text = " ".join(body.split())
    summary = f"{label} on {case.token} {case.subject}: {text}"
    return summary[:297] + "…" if len(summary) > 300 else summary


def log_message_interaction(message: CaseMessage, *, actor) -> None:
    """Put ``message`` on the requester's timeline (idempotent on the message id)."""
    case = message.case
    party = case.requester
    if party.status != Party.Status.ACTIVE:
        return
    channel = Channel.EMAIL if message.kind != CaseMessage.Kind.NOTE else Channel.SYSTEM
    if message.kind == CaseMessage.Kind.REPLY and case.origin != Origin.EMAIL:
        channel = Channel.EMAIL if message.to_email else Channel.PORTAL
    if message.kind == CaseMessage.Kind.INBOUND and message.author_id is not None:
        channel = Channel.PORTAL  # written by the customer in the portal, not e-mailed
    direction = {
        CaseMessage.Kind.INBOUND: Direction.INBOUND,
        CaseMessage.Kind.REPLY: Direction.OUTBOUND,
        CaseMessage.Kind.NOTE: Direction.INTERNAL,
    }[message.kind]
    interaction, _ = interaction_services.log_interaction(
        actor=actor,
        party=party,
        channel=channel,
        direction=direction,
        kind=INTERACTION_KINDS[message.kind],
        occurred_at=message.occurred_at,
        summary=_summary(case, message.kind, message.body_text or message.subject or "(empty)"),
        body=message.body_text[:20000],
        source=TIMELINE_SOURCE,
        external_id=f"case-message:{message.public_id}",
        related=case,
    )
    CaseMessage.objects.filter(pk=message.pk).update(interaction=interaction)
    message.interaction = interaction


def requester_email(case: Case) -> str:
    """Where public replies go: the address the customer last wrote from, else their primary e-mail."""
    last = (
        CaseMessage.objects.filter(case=case, kind=CaseMessage.Kind.INBOUND)
        .exclude(from_email="")
        .order_by("-occurred_at", "-id")
        .values_list("from_email", flat=True)
        .first()
    )
    if last:
        return last
    point = (
        case.requester.contact_points.filter(channel="email")
        .order_by("-primary", "id")
        .values_list("value", flat=True)
        .first()
    )
    return point or ""


def mail_domain() -> str:
    sender = settings.DEFAULT_FROM_EMAIL
    return sender.rsplit("@", 1)[-1].strip(">").strip() or "kith.local"


def add_message(
    *,
    actor,
    case: Case,
    kind: str,
    body: str,
    at: dt.datetime | None = None,
    send_email: bool = True,
) -> CaseMessage:
    """A public reply (e-mailed to the requester) or an internal note, by staff.

    The first public reply stops the first-response clock (flagging a breach when
    late). A public reply on a new case opens it. Both land on the requester's
    timeline; a note as an internal interaction, never e-mailed.
    """
    when = _now(at)
    if kind not in (CaseMessage.Kind.REPLY, CaseMessage.Kind.NOTE):
        raise ValidationFailed.single("kind", "Must be reply or note.")
    text = (body or "").strip()
    if not text:
        raise ValidationFailed.single("body", "This field is required.")
    if len(text) > MAX_BODY:
        raise ValidationFailed.single("body", f"At most {MAX_BODY} characters.")
    with transaction.atomic():
        current = (
            Case.objects.select_for_update(of=("self",))
            .select_related("requester", "queue", "assignee", "sla_policy__calendar")
            .get(pk=case.pk)
        )
        message = CaseMessage(
            case=current,
            kind=kind,
            author=_actor(actor),
            body_text=text,
            subject=f"Re: {current.subject} {current.token}",
            occurred_at=when,
        )
        if kind == CaseMessage.Kind.REPLY:
            from email.utils import make_msgid

            message.message_id = make_msgid(domain=mail_domain())
            message.in_reply_to, refs = _thread_headers(current)
            message.references = " ".join(refs)
            message.from_email = (current.queue.email_address if current.queue else "") or (
                settings.DEFAULT_FROM_EMAIL
            )
            message.to_email = requester_email(current) if send_email else ""
        message.save()
        if kind == CaseMessage.Kind.REPLY:
            if current.first_responded_at is None:
                current.first_responded_at = when
                due = current.first_response_due_at
                if due is not None and when > due:
                    _record_breach(current, SlaBreach.Kind.FIRST_RESPONSE, due, when, actor)
            current.last_activity_at = when
            _set_next_due(current)
            current.save()
        log_message_interaction(message, actor=actor)
        audit.record(
            actor=actor,
            action=f"case.{'replied' if kind == CaseMessage.Kind.REPLY else 'noted'}",
            obj=current,
            changes={"message": str(message.public_id)},
            party_id=current.requester_id,
        )
        events.emit(
            "case.message_added",
            obj=current,
            actor=actor,
            data={"message": str(message.public_id), "kind": kind, "number": current.number},
        )
        if kind == CaseMessage.Kind.REPLY and message.to_email:
            transaction.on_commit(lambda pk=message.pk: _enqueue("send_case_reply", pk))
        if kind == CaseMessage.Kind.REPLY:
            _notify_customer(current, actor=actor)
        if kind == CaseMessage.Kind.REPLY and current.status == Status.NEW:
            change_status(actor=actor, case=current, status=Status.OPEN, at=when)
    return message


def _notify_customer(case: Case, *, actor) -> None:
    """Tell the requester's portal login (if they have one) that a public reply arrived.

    The text names the case only: the reply itself is read on the case page, where
    the access rules of the portal apply."""
    from kith.accounts.models import User
    from kith.collab import services as collab_services

    login = User.objects.filter(person_id=case.requester_id, kind="portal", is_active=True).first()
    if login is None:
        return
    who = actor.get_full_name() or actor.get_username() if _user_ok(actor) else "Support"
    collab_services.notify(
        user=login,
        verb="system",
        actor=actor,
        text=f"**{who}** replied on your case {case.token}: {case.subject}",
        url=f"/portal/cases/{case.public_id}/",
    )


def deliver_reply(message: CaseMessage, *, connection=None) -> bool:
    """E-mail a public reply with its threading headers; records success or the error.

    Not an audited change of its own: the reply was audited when written; this only
    notes whether the mail left.
    """
    from django.core.mail import EmailMessage

    if message.kind != CaseMessage.Kind.REPLY or not message.to_email:
        return False
    if message.sent_at is not None:
        return True
    # The customer's consent to service messages and their channel choice are asked
    # right before sending (a reply they wait for ignores caps and quiet hours).
    from kith.cmr import policy as cmr_policy

    requester = message.case.requester if message.case_id else None
    decision = cmr_policy.may_send(
        person=requester, purpose="service_messages", topic="cases", conversational=True
    )
    if not decision:
        CaseMessage.objects.filter(pk=message.pk).update(
            send_error=f"Not sent: {decision.reason}"[:500]
        )
        return False
    headers = {"Message-ID": message.message_id, "Auto-Submitted": "no"}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    mail = EmailMessage(
        subject=message.subject,
        body=message.body_text,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[message.to_email],
        headers=headers,
        connection=connection,
    )
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as fh:
            mail.attach(attachment.filename, fh.read(), attachment.content_type)
    # Claim the reply before it leaves: of two workers running the same job (the queue
    # delivers at least once), only the one whose conditional update matched sends it.
    now = timezone.now()
    if not CaseMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(
        sent_at=now, send_error=""
    ):
        return True
    try:
        mail.send()
    except Exception as exc:  # the task retries; keep the reason for the UI
        CaseMessage.objects.filter(pk=message.pk).update(sent_at=None, send_error=str(exc)[:500])
        raise
    message.sent_at = now
    cmr_policy.record_sent(
        person=requester, purpose="service_messages", sender="service.reply", topic="cases"
    )
    return True


# ---------------------------------------------------------------- breaches


def check_breaches(*, now: dt.datetime | None = None, notify: bool = True) -> list[SlaBreach]:
    """Flag every running target whose due time has passed; emit and notify.

    Pending-customer cases are skipped: their clocks are stopped.
    """
    when = _now(now)
    found: list[SlaBreach] = []
    first = Case.objects.filter(
        status__in=(Status.NEW, Status.OPEN),
        first_responded_at__isnull=True,
        first_response_breached=False,
        first_response_due_at__lt=when,
    ).values_list("pk", flat=True)
    resolution = Case.objects.filter(
        status__in=(Status.NEW, Status.OPEN),
        resolution_breached=False,
        resolution_due_at__lt=when,
    ).values_list("pk", flat=True)
    for kind, ids in (
        (SlaBreach.Kind.FIRST_RESPONSE, list(first)),
        (SlaBreach.Kind.RESOLUTION, list(resolution)),
    ):
        for pk in ids:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(of=("self",))
                    .select_related("requester")
                    .get(pk=pk)
                )
                due = (
                    case.first_response_due_at
                    if kind == SlaBreach.Kind.FIRST_RESPONSE
                    else case.resolution_due_at
                )
                if case.status not in (Status.NEW, Status.OPEN) or due is None or due >= when:
                    continue
                if _record_breach(case, kind, due, when):
                    case.save()
                    found.append(SlaBreach.objects.get(case=case, kind=kind))
    if notify:
        for breach in found:
            notify_breach(breach)
    return found


def notify_breach(breach: SlaBreach) -> None:
    """Tell the assignee (else the queue's agents) by e-mail; the SlaBreach row is the
    in-app record shown in the breach report."""
    from django.core.mail import send_mail

    case = breach.case
    recipients = []
    if case.assignee and case.assignee.email:
        recipients = [case.assignee.email]
    elif case.queue:
        recipients = [u.email for u in case.queue.agents.all() if u.email]
    if recipients:
        url = f"{settings.KITH_BASE_URL}/service/cases/{case.public_id}/"
        try:
            send_mail(
                subject=f"SLA breached: {case.token} {case.subject}",
                message=(
                    f"The {breach.get_kind_display().lower()} target of {case.token} was due "
                    f"{breach.due_at:%Y-%m-%d %H:%M} UTC.\n\n{url}\n"
                ),
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=recipients,
            )
        except Exception:  # a mail outage must not stop flagging; the report still shows it
            return
    SlaBreach.objects.filter(pk=breach.pk).update(notified_at=timezone.now())


# ---------------------------------------------------------------- CSAT


def csat_token(case: Case) -> str:
    return signing.TimestampSigner(salt=CSAT_SALT).sign(str(case.public_id))


def case_for_csat_token(token: str) -> Case:
    """The case a rating link is for; NotFound when forged or expired."""
    try:
        value = signing.TimestampSigner(salt=CSAT_SALT).unsign(token, max_age=CSAT_MAX_AGE)
    except signing.SignatureExpired:
        raise NotFound("This rating link has expired.") from None
    except signing.BadSignature:
        raise NotFound("This rating link is not valid.") from None
    case = (
        Case.objects.select_related("requester", "assignee", "queue")
        .filter(public_id=value)
        .first()
    )
    if case is None:
        raise NotFound("This rating link is not valid.")
    return case


def submit_csat(
    *, token: str, rating: Any, comment: str = "", at: dt.datetime | None = None
) -> CsatResponse:
    """The requester rates a resolved case (once), without logging in."""
    when = _now(at)
    case = case_for_csat_token(token)
    errors = []
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        errors.append(FieldError("rating", "A whole number from 1 to 5."))
    comment = (comment or "").strip()
    if len(comment) > 5000:
        errors.append(FieldError("comment", "At most 5000 characters."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.status not in (Status.RESOLVED, Status.CLOSED):
            raise Conflict("This case is not resolved; it can be rated once it is.")
        if CsatResponse.objects.filter(case=locked).exists():
            raise Conflict("This case was already rated. Thank you!")
        response = CsatResponse.objects.create(
            case=locked,
            rating=value,
            comment=comment,
            agent=locked.assignee,
            queue=locked.queue,
            submitted_at=when,
        )
        audit.record(
            actor=None,
            action="case.rated",
            obj=locked,
            changes={"rating": value},
            party_id=locked.requester_id,
        )
        events.emit("case.rated", obj=locked, data={"rating": value, "number": locked.number})
        if case.requester.status == Party.Status.ACTIVE:
            interaction_services.log_interaction(
                actor=None,
                party=case.requester,
                channel=Channel.SURVEY,
                direction=Direction.INBOUND,
                kind="csat",
                occurred_at=when,
                summary=f"Rated {case.token} {value}/5",
                body=comment,
                source=TIMELINE_SOURCE,
                external_id=f"csat:{response.public_id}",
                related=locked,
            )
    return response


# ---------------------------------------------------------------- customers (portal)
#
# What a customer does to their own cases from the portal. The caller has already
# checked, through ``kith.service.access.get_customer_case``, that ``actor`` may see
# ``case``; these functions check it again for writes (defence in depth).

MAX_CUSTOMER_FILES = 5


def _uuid_or_none(value: Any):
    import uuid

    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def max_customer_file_bytes() -> int:
    return int(getattr(settings, "KITH_PORTAL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))


def _check_customer(actor, case: Case | None = None) -> None:
    from kith.service import access

    if not getattr(actor, "is_portal", False) or not actor.is_active or not actor.person_id:
        raise NotFound("No such case.")
    if (
        case is not None
        and not access.scope_customer_cases(actor, Case.objects.filter(pk=case.pk)).exists()
    ):
        raise NotFound("No such case.")


def _check_files(files: list | None) -> list[FieldError]:
    from django.template.defaultfilters import filesizeformat

    errors: list[FieldError] = []
    files = files or []
    if len(files) > MAX_CUSTOMER_FILES:
        errors.append(FieldError("files", f"At most {MAX_CUSTOMER_FILES} files."))
    limit = max_customer_file_bytes()
    for upload in files:
        size = getattr(upload, "size", 0) or 0
        if size <= 0:
            errors.append(FieldError("files", f"{upload.name}: the file is empty."))
        elif size > limit:
            errors.append(FieldError("files", f"{upload.name}: at most {filesizeformat(limit)}."))
    return errors


def _save_files(message: CaseMessage, files: list | None) -> None:
    import mimetypes

    from kith.service.models import Attachment

    for upload in files or []:
        name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
        # The type shown and served is guessed from the name, never taken from the
        # browser; files are always downloaded (as_attachment), never rendered inline.
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachment = Attachment(
            message=message, filename=name, content_type=ctype[:120], size=upload.size
        )
        attachment.file.save(name, upload, save=False)
        attachment.save()


def _customer_message(*, actor, case: Case, body: str, files: list | None, when) -> CaseMessage:
    message = CaseMessage.objects.create(
        case=case,
        kind=CaseMessage.Kind.INBOUND,
        author=actor,
        sender=actor.person,
        from_email=(actor.email or "")[:254],
        subject=case.subject,
        body_text=body,
        occurred_at=when,
    )
    _save_files(message, files)
    log_message_interaction(message, actor=actor)
    return message


def open_case_as_customer(
    *,
    actor,
    subject: str,
    body: str,
    files: list | None = None,
    deflection_id: Any = None,
    at: dt.datetime | None = None,
) -> Case:
    """A customer opens a case from the portal: the case, its first message, its files.

    ``deflection_id`` names the suggestions shown first (``record_deflection_shown``);
    opening the case marks them as not having deflected it."""
    from kith.service.inbound import _organization_of

    _check_customer(actor)
    when = _now(at)
    text = (body or "").strip()
    errors = []
    if not text:
        errors.append(FieldError("body", "This field is required."))
    elif len(text) > MAX_BODY:
        errors.append(FieldError("body", f"At most {MAX_BODY} characters."))
    errors += _check_files(files)
    data = CaseInput(
        subject=subject or "",
        description=text,
        requester=actor.person,
        organization=_organization_of(actor.person),
        origin=Origin.PORTAL,
        queue=Queue.objects.filter(is_default=True).first(),
    )
    errors += _check_case(data, creating=True)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        case = create_case(actor=actor, data=data, at=when)
        message = _customer_message(actor=actor, case=case, body=text, files=files, when=when)
        _attach_deflection(actor, _uuid_or_none(deflection_id), case)
        events.emit(
            "case.message_added",
            obj=case,
            actor=actor,
            data={"message": str(message.public_id), "kind": "inbound", "number": case.number},
        )
    return case


def reply_as_customer(
    *, actor, case: Case, body: str, files: list | None = None, at: dt.datetime | None = None
) -> CaseMessage:
    """A customer writes on their case; a waiting or finished case opens again."""
    _check_customer(actor, case)
    when = _now(at)
    text = (body or "").strip()
    errors = []
    if not text:
        errors.append(FieldError("body", "This field is required."))
    elif len(text) > MAX_BODY:
        errors.append(FieldError("body", f"At most {MAX_BODY} characters."))
    errors += _check_files(files)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        current = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        message = _customer_message(actor=actor, case=current, body=text, files=files, when=when)
        Case.objects.filter(pk=current.pk).update(last_activity_at=when)
        audit.record(
            actor=actor,
            action="case.customer_replied",
            obj=current,
            changes={"message": str(message.public_id)},
            party_id=current.requester_id,
        )
        events.emit(
            "case.message_added",
            obj=current,
            actor=actor,
            data={"message": str(message.public_id), "kind": "inbound", "number": current.number},
        )
        if current.status in (Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED):
            change_status(actor=actor, case=current, status=Status.OPEN, at=when)
    return message


def close_as_customer(*, actor, case: Case, at: dt.datetime | None = None) -> Case:
    """The customer says the matter is settled: the case is resolved, then closed."""
    _check_customer(actor, case)
    when = _now(at)
    with transaction.atomic():
        current = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if current.status == Status.CLOSED:
            raise Conflict("This case is already closed.")
        if current.status != Status.RESOLVED:
            current = change_status(actor=actor, case=current, status=Status.RESOLVED, at=when)
        current = change_status(actor=actor, case=current, status=Status.CLOSED, at=when)
    return current


def rate_as_customer(
    *, actor, case: Case, rating: Any, comment: str = "", at: dt.datetime | None = None
) -> CsatResponse:
    """The requester rates their resolved case (once), through the same rules as the
    e-mailed rating link. Only the requester rates: a colleague who sees the case
    through their organisation does not rate someone else's service."""
    _check_customer(actor, case)
    if case.requester_id != actor.person_id:
        raise Forbidden("Only the person who asked can rate this case.")
    return submit_csat(token=csat_token(case), rating=rating, comment=comment, at=at)


# ---------------------------------------------------------------- case deflection


def record_deflection_shown(*, actor, subject: str, suggestions: list[dict]) -> Deflection:
    """The customer was shown community answers before opening a case.

    ``suggestions`` are ``{"id", "title", "url"}`` dicts in the order shown; the url is a
    path on this site, used later to send the customer to the answer they picked.
    """
    _check_customer(actor)
    subject = " ".join((subject or "").split())[:300]
    clean = []
    for item in suggestions[:10]:
        url = str(item.get("url") or "")
        if not url.startswith("/") or url.startswith("//"):
            url = ""  # only our own pages are linked
        clean.append(
            {
                "id": str(item.get("id", ""))[:64],
                "title": str(item.get("title", ""))[:300],
                "url": url,
            }
        )
    subject = subject or "(no subject)"
    with transaction.atomic():
        # A reload of the same step is the same offer, not a second one.
        recent = (
            Deflection.objects.filter(
                user=actor,
                subject=subject,
                case__isnull=True,
                created_at__gte=timezone.now() - dt.timedelta(hours=1),
            )
            .order_by("-id")
            .first()
        )
        if recent is not None and recent.suggested == clean:
            return recent
        row = Deflection.objects.create(
            user=actor, party=actor.person, subject=subject, suggested=clean
        )
        events.emit(
            "case.deflection_offered",
            obj=row,
            actor=actor,
            data={"subject": row.subject, "suggested": [c["id"] for c in clean]},
        )
    return row


def _own_deflection(actor, deflection_id) -> Deflection:
    _check_customer(actor)
    pid = _uuid_or_none(deflection_id)
    row = (
        Deflection.objects.select_for_update().filter(public_id=pid, user=actor).first()
        if pid is not None
        else None
    )
    if row is None:
        raise NotFound("No such suggestion.")
    return row


def record_deflection_view(*, actor, deflection_id, topic_id: str) -> dict:
    """The customer opened a suggested answer: timestamped, on their timeline
    (community channel, information-seeking). Returns the suggestion (``id``, ``title``,
    ``url``) and the ``subject`` the customer typed."""
    when = timezone.now()
    with transaction.atomic():
        row = _own_deflection(actor, deflection_id)
        chosen = next((s for s in row.suggested if s.get("id") == str(topic_id)), None)
        if chosen is None:
            raise NotFound("No such suggestion.")
        first = row.viewed_at is None
        row.viewed_at = row.viewed_at or when
        row.viewed_topic = chosen["id"]
        row.save(update_fields=["viewed_at", "viewed_topic", "updated_at"])
        if first:
            events.emit(
                "case.deflection_viewed",
                obj=row,
                actor=actor,
                data={"topic": chosen["id"], "subject": row.subject},
            )
        if actor.person.status == Party.Status.ACTIVE:
            interaction_services.log_interaction(
                actor=actor,
                party=actor.person,
                channel=Channel.COMMUNITY,
                direction=Direction.INBOUND,
                kind="answer_viewed",
                occurred_at=when,
                summary=f"Read the answer “{chosen['title']}” before opening a case"[:300],
                source=TIMELINE_SOURCE,
                external_id=f"deflection-view:{row.public_id}:{chosen['id']}",
                information_role="seeking",
            )
    return {**chosen, "subject": row.subject}


def confirm_deflection(*, actor, deflection_id) -> Deflection:
    """The customer says a suggested answer solved it: no case needed."""
    with transaction.atomic():
        row = _own_deflection(actor, deflection_id)
        if row.case_id is not None:
            raise Conflict("A case was already opened for this question.")
        if row.confirmed_at is None:
            row.confirmed_at = timezone.now()
            row.save(update_fields=["confirmed_at", "updated_at"])
            audit.record(
                actor=actor,
                action="case.deflected",
                obj=row,
                changes={"subject": row.subject, "topic": row.viewed_topic},
                party_id=row.party_id,
            )
            events.emit(
                "case.deflected",
                obj=row,
                actor=actor,
                data={"subject": row.subject, "topic": row.viewed_topic},
            )
    return row


def _attach_deflection(actor, deflection_id, case: Case) -> None:
    """The customer opened the case anyway: that suggestion did not deflect it."""
    if not deflection_id:
        return
    Deflection.objects.filter(public_id=deflection_id, user=actor, case__isnull=True).update(
        case=case, updated_at=timezone.now()
    )


# ---------------------------------------------------------------- merges


def move_party_references(*, keep: Party, absorb: Party) -> None:
    """After a people merge: the survivor takes over the absorbed party's cases."""
    Case.objects.filter(requester=absorb).update(requester=keep)
    Case.objects.filter(organization=absorb).update(organization=keep)
    CaseMessage.objects.filter(sender=absorb).update(sender=keep)


TOKEN_RE = re.compile(r"\[#" + re.escape(Case.TOKEN_PREFIX) + r"(\d{1,18})\]", re.IGNORECASE)


# ---------------------------------------------------------------- trash


def _check_case_restore(user, case: Case) -> None:
    """Who may delete a case may restore it (the API's delete checks, on the restored row)."""
    from kith.service import access

    access.get_case_for_delete(user, case.public_id)


def _after_case_restore(*, actor, obj: Case, item: TrashItem) -> None:
    from kith.collab import services as collab_services

    collab_services.record_system_event(
        actor=actor,
        target=obj,
        event_name="case.restored",
        line=f"Case deleted by {item.deleted_by_label} on {item.deleted_at:%Y-%m-%d %H:%M} UTC, "
        "restored from the trash",
    )


def _case_url(case: Case) -> str:
    from django.urls import reverse

    return reverse("service:case", kwargs={"public_id": case.public_id})


trash.register(
    trash.Kind(
        name="case",
        model=Case,
        check_restore=_check_case_restore,
        after_restore=_after_case_restore,
        url=_case_url,
    )
)
