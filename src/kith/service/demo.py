"""Demo data for the service desk: two queues, an office calendar, SLA policies and
~150 cases over two years with their conversation, SLA history (some breached),
status history and CSAT ratings.

Called by ``kith demo`` (``kith.demo.data.load``) after the people are written, in the
same transaction, on the ``demo`` audit channel. The configuration rows go through the
services (so they carry audit entries); cases and their history are computed in memory
with the same business-time arithmetic the services use and bulk inserted, which keeps
the load to a second or two. One ``case.created`` audit entry per case on the demo
channel is the ledger ``wipe`` deletes by. Deterministic: a seeded ``random.Random``
and dates relative to ``anchor``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

WINDOW_DAYS = 730
CASES = 150
INTERACTION_SOURCE = "demo-service"
CALENDAR_NAME = "Office hours (Berlin)"
QUEUES = (
    # name, rule, address, default, agents
    ("Support", "round_robin", "support@ourcompany.example", True, ("bob", "mia")),
    ("Billing", "least_loaded", "billing@ourcompany.example", False, ("mia", "alice")),
)
POLICIES = (
    # priority, first response minutes, resolution minutes (business time)
    ("low", 8 * 60, 40 * 60),
    ("normal", 4 * 60, 16 * 60),
    ("high", 2 * 60, 8 * 60),
    ("urgent", 30, 4 * 60),
)
PRIORITY_WEIGHTS = (("low", 20), ("normal", 55), ("high", 18), ("urgent", 7))
ORIGIN_WEIGHTS = (("email", 60), ("phone", 15), ("web", 15), ("portal", 7), ("chat", 3))
SUBJECTS = {
    "Support": (
        (
            "Cannot log in since this morning",
            "The login page says my password is wrong, but I reset it twice.",
        ),
        (
            "Export to CSV times out",
            "Exporting our 3,000 contacts stops after a minute with an error.",
        ),
        ("Sync with Outlook stopped", "Meetings no longer appear in Outlook since Friday."),
        (
            "How do I add a custom field?",
            "We would like to store the customer number on each person.",
        ),
        ("Page is very slow", "Opening an organisation with many people takes ten seconds."),
        ("Two-factor codes not arriving", "The SMS with the code never arrives on my phone."),
        ("Import mixed up first and last names", "After the import every name is reversed."),
        ("Mobile layout broken on iPad", "The timeline overlaps the sidebar in portrait mode."),
    ),
    "Billing": (
        ("Invoice charged twice", "Our card was charged twice for the November invoice."),
        ("Change billing address", "Please use our new office address on future invoices."),
        ("VAT number missing on invoice", "Our VAT number must appear on every invoice."),
        ("Refund for unused seats", "We removed five seats in March; can we get a credit?"),
        ("Upgrade to the Business plan", "What would the upgrade cost pro rata?"),
    ),
}
REPLIES = (
    "Thanks for reaching out — we are looking into it and will get back to you shortly.",
    "Could you send us a screenshot and the time it happened? That helps us reproduce it.",
    "We found the cause and rolled out a fix. Could you check that it works for you now?",
    "I have made the change on your account; you should see it within a few minutes.",
)
NOTES = (
    "Checked the logs: the request hits the rate limiter. Escalating to engineering.",
    "Customer is on the annual plan, renewal in two months — handle with care.",
    "Same issue as last week's case for Globex; fix is in the next release.",
)
FOLLOW_UPS = (
    "Thanks, it works again!",
    "Here is the screenshot you asked for.",
    "Still not working on my side, sorry.",
)
COMMENTS = ("Quick and friendly, thank you!", "Took a while, but solved.", "", "Great help.", "")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _demo_ids(action: str) -> list[int]:
    from kith.core.models import AuditEntry

    return list(
        AuditEntry.objects.filter(channel="demo", action=action).values_list("object_id", flat=True)
    )


def _holidays(anchor: dt.date) -> list[dict]:
    out = []
    for year in range(anchor.year - 2, anchor.year + 2):
        for month, day, name in (
            (1, 1, "New Year's Day"),
            (5, 1, "Labour Day"),
            (10, 3, "German Unity Day"),
            (12, 25, "Christmas Day"),
            (12, 26, "Boxing Day"),
        ):
            out.append({"date": dt.date(year, month, day), "name": name})
    return out


def _configure(anchor: dt.date, users: dict[str, Any]) -> tuple[Any, dict, dict]:
    from kith.service import services
    from kith.service.models import BusinessCalendar, Queue, SlaPolicy

    calendar = BusinessCalendar.objects.filter(name=CALENDAR_NAME).first()
    if calendar is None:
        calendar = services.create_calendar(
            actor=None,
            name=CALENDAR_NAME,
            timezone="Europe/Berlin",
            weekly_hours={str(d): [["09:00", "17:00"]] for d in range(5)},
            holidays=_holidays(anchor),
        )
    queues = {}
    for name, rule, address, default, agents in QUEUES:
        queue = Queue.objects.filter(name=name).first()
        if queue is None:
            queue = services.create_queue(
                actor=None,
                name=name,
                assignment_rule=rule,
                email_address=address,
                is_default=default and not Queue.objects.filter(is_default=True).exists(),
                agents=[users[a] for a in agents if a in users],
            )
        queues[name] = queue
    policies = {}
    for priority, first, resolution in POLICIES:
        policy = SlaPolicy.objects.filter(
            priority=priority, organization__isnull=True, active=True
        ).first()
        if policy is None:
            policy = services.create_sla_policy(
                actor=None,
                name=f"{priority.capitalize()} priority",
                priority=priority,
                first_response_minutes=first,
                resolution_minutes=resolution,
                calendar=calendar,
            )
        policies[priority] = policy
    return calendar, queues, policies


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo service desk; returns a one-line summary."""
    from django.contrib.contenttypes.models import ContentType

    from kith.accounts.models import User
    from kith.core.models import AuditEntry
    from kith.interactions.models import Interaction
    from kith.people.models import ContactPoint, Party
    from kith.service import services
    from kith.service.models import (
        NO_DUE,
        Case,
        CaseMessage,
        CsatResponse,
        SlaBreach,
        StatusChange,
    )

    rng = random.Random(seed + 303)
    users = {u.username: u for u in User.objects.filter(username__in=["alice", "mia", "bob"])}
    calendar, queues, policies = _configure(anchor, users)
    schedule = calendar.schedule()
    people = list(
        Party.objects.filter(kind=Party.Kind.PERSON, status=Party.Status.ACTIVE)
        .exclude(user__kind="staff")
        .order_by("id")[:400]
    )
    if not people:
        return "no people to open cases for"
    emails = dict(
        ContactPoint.objects.filter(channel="email", party__in=people)
        .order_by("party_id", "primary", "-id")  # the last value per party wins: primary
        .values_list("party_id", "value")
    )
    now = dt.datetime.combine(anchor, dt.time(16, 0), tzinfo=dt.UTC)
    start_number = (
        Case.objects.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    case_type = ContentType.objects.get_for_model(Case)
    agents_of = {
        name: [users[a] for a in q[4] if a in users] for name, q in zip(queues, QUEUES, strict=True)
    }

    def business_after(start: dt.datetime, minutes: float) -> dt.datetime:
        return schedule.add(start, minutes * 60)

    cases: list[Case] = []
    plans: list[dict] = []
    for i in range(CASES):
        # Older cases are spread over two years; the last 20 are recent (still open).
        if i < CASES - 20:
            day = anchor - dt.timedelta(days=rng.randint(12, WINDOW_DAYS))
        else:
            day = anchor - dt.timedelta(days=rng.randint(0, 8))
        created = dt.datetime.combine(
            day, dt.time(rng.randint(6, 19), rng.randint(0, 59)), tzinfo=dt.UTC
        )
        if created > now:
            created = now - dt.timedelta(hours=rng.randint(1, 5))
        queue_name = "Billing" if rng.random() < 0.3 else "Support"
        subject, description = rng.choice(SUBJECTS[queue_name])
        priority = _pick(rng, PRIORITY_WEIGHTS)
        policy = policies[priority]
        agents = agents_of[queue_name]
        assignee = agents[i % len(agents)] if agents else None
        requester = people[rng.randrange(len(people))]
        first_due = business_after(created, policy.first_response_minutes)
        resolution_due = business_after(created, policy.resolution_minutes)
        # Response and resolution times as a share of the target; > 1 is a breach.
        respond_factor = rng.choice((0.1, 0.3, 0.5, 0.8, 0.9, 1.4, 2.5))
        resolve_factor = rng.choice((0.2, 0.5, 0.7, 0.9, 1.2, 3.0))
        responded = business_after(created, policy.first_response_minutes * respond_factor)
        resolved = business_after(created, policy.resolution_minutes * resolve_factor)
        recent = i >= CASES - 20
        status = "closed" if created < now - dt.timedelta(days=30) else "resolved"
        if recent:
            status = rng.choice(("new", "open", "open", "pending_customer", "resolved"))
        if status == "new":
            responded = None
        if status in ("new", "open", "pending_customer") or (resolved and resolved > now):
            if status == "resolved":
                status = "open"
            resolved = None
        if responded is not None and responded > now:
            responded = None
            if status != "new":
                status = "new"
        case = Case(
            public_id=_uuid(rng),
            number=start_number + i,
            subject=subject,
            description=description,
            requester=requester,
            origin=_pick(rng, ORIGIN_WEIGHTS),
            priority=priority,
            status=status,
            queue=queues[queue_name],
            assignee=assignee,
            sla_policy=policy,
            first_response_due_at=first_due,
            resolution_due_at=resolution_due,
            first_responded_at=responded,
            resolved_at=resolved,
            closed_at=(resolved + dt.timedelta(days=7))
            if status == "closed" and resolved
            else None,
            last_activity_at=resolved or responded or created,
        )
        if status == "pending_customer" and responded is not None:
            case.paused_at = responded + dt.timedelta(minutes=5)
        # Targets missed: by a late answer/resolution, or still running past the due time.
        first_missed = (responded or now) > first_due and (
            responded is not None or status in ("new", "open")
        )
        resolution_missed = (resolved or now) > resolution_due and (
            resolved is not None or status in ("new", "open")
        )
        case.first_response_breached = first_missed
        case.resolution_breached = resolution_missed
        case.breached = first_missed or resolution_missed
        if status in ("new", "open", "pending_customer"):
            case.next_due_at = first_due if responded is None else resolution_due
        else:
            case.next_due_at = NO_DUE
        cases.append(case)
        plans.append({"created": created})
    Case.objects.bulk_create(cases, batch_size=200)
    # created_at is auto_now_add; put the historic times back.
    for case, plan in zip(cases, plans, strict=True):
        case.created_at = plan["created"]
    Case.objects.bulk_update(cases, ["created_at"], batch_size=200)

    messages: list[CaseMessage] = []
    changes: list[StatusChange] = []
    breaches: list[SlaBreach] = []
    ratings: list[CsatResponse] = []
    domain = services.mail_domain()
    for case, plan in zip(cases, plans, strict=True):
        created = plan["created"]
        customer_email = emails.get(case.requester_id, "")
        first_id = (
            f"<demo-{case.public_id.hex[:12]}-0@{customer_email.split('@')[-1] or 'example.com'}>"
        )
        messages.append(
            CaseMessage(
                public_id=_uuid(rng),
                case=case,
                kind="inbound",
                sender=case.requester,
                from_email=customer_email,
                to_email=case.queue.email_address,
                subject=case.subject,
                body_text=case.description,
                message_id=first_id,
                occurred_at=created,
            )
        )
        changes.append(StatusChange(case=case, to_status="new", occurred_at=created))
        if case.first_responded_at is not None:
            when = case.first_responded_at
            if rng.random() < 0.35:
                messages.append(
                    CaseMessage(
                        public_id=_uuid(rng),
                        case=case,
                        kind="note",
                        author=case.assignee,
                        body_text=rng.choice(NOTES),
                        occurred_at=when - dt.timedelta(minutes=3),
                    )
                )
            messages.append(
                CaseMessage(
                    public_id=_uuid(rng),
                    case=case,
                    kind="reply",
                    author=case.assignee,
                    from_email=case.queue.email_address,
                    to_email=customer_email,
                    subject=f"Re: {case.subject} {case.token}",
                    body_text=rng.choice(REPLIES),
                    message_id=f"<demo-{case.public_id.hex[:12]}-1@{domain}>",
                    in_reply_to=first_id,
                    references=first_id,
                    occurred_at=when,
                    sent_at=when,
                )
            )
            changes.append(
                StatusChange(
                    case=case,
                    from_status="new",
                    to_status="open",
                    actor=case.assignee,
                    occurred_at=when,
                )
            )
            if case.resolved_at is not None and rng.random() < 0.5:
                follow = when + (case.resolved_at - when) / 2
                messages.append(
                    CaseMessage(
                        public_id=_uuid(rng),
                        case=case,
                        kind="inbound",
                        sender=case.requester,
                        from_email=customer_email,
                        subject=f"Re: {case.subject} {case.token}",
                        body_text=rng.choice(FOLLOW_UPS),
                        message_id=f"<demo-{case.public_id.hex[:12]}-2@example.com>",
                        in_reply_to=f"<demo-{case.public_id.hex[:12]}-1@{domain}>",
                        occurred_at=follow,
                    )
                )
        if case.status == "pending_customer" and case.paused_at:
            changes.append(
                StatusChange(
                    case=case,
                    from_status="open",
                    to_status="pending_customer",
                    actor=case.assignee,
                    occurred_at=case.paused_at,
                )
            )
        if case.resolved_at is not None:
            changes.append(
                StatusChange(
                    case=case,
                    from_status="open",
                    to_status="resolved",
                    actor=case.assignee,
                    occurred_at=case.resolved_at,
                )
            )
            if rng.random() < 0.6:
                late = case.breached
                rating = rng.choice((2, 3, 4) if late else (4, 5, 5, 5, 3))
                ratings.append(
                    CsatResponse(
                        case=case,
                        rating=rating,
                        comment=rng.choice(COMMENTS),
                        agent=case.assignee,
                        queue=case.queue,
                        submitted_at=case.resolved_at + dt.timedelta(hours=rng.randint(1, 48)),
                    )
                )
        if case.closed_at is not None:
            changes.append(
                StatusChange(
                    case=case,
                    from_status="resolved",
                    to_status="closed",
                    occurred_at=case.closed_at,
                )
            )
        for kind, flagged, due, met in (
            (
                "first_response",
                case.first_response_breached,
                case.first_response_due_at,
                case.first_responded_at,
            ),
            ("resolution", case.resolution_breached, case.resolution_due_at, case.resolved_at),
        ):
            if flagged:
                at = met if met is not None and met > due else due + dt.timedelta(minutes=1)
                breaches.append(
                    SlaBreach(
                        case=case,
                        kind=kind,
                        due_at=due,
                        breached_at=at,
                        queue=case.queue,
                        assignee=case.assignee,
                        notified_at=at,
                    )
                )
    CaseMessage.objects.bulk_create(messages, batch_size=500)
    StatusChange.objects.bulk_create(changes, batch_size=500)
    SlaBreach.objects.bulk_create(breaches, batch_size=500)
    CsatResponse.objects.bulk_create(ratings, batch_size=500)

    # Every message on the requester's timeline (notes as internal interactions).
    kinds = services.INTERACTION_KINDS
    interactions = []
    for m in messages:
        interactions.append(
            Interaction(
                party_id=m.case.requester_id,
                channel="system" if m.kind == "note" else "email",
                direction={"inbound": "in", "reply": "out", "note": "internal"}[m.kind],
                kind=kinds[m.kind],
                occurred_at=m.occurred_at,
                summary=services._summary(m.case, m.kind, m.body_text),
                body=m.body_text,
                source=INTERACTION_SOURCE,
                external_id=f"case-message:{m.public_id}",
                actor=m.author,
                related_type=case_type,
                related_id=m.case.pk,
            )
        )
    Interaction.objects.bulk_create(interactions, batch_size=500)
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                occurred_at=c.created_at,
                actor=None,
                actor_label="system",
                channel="demo",
                action="case.created",
                object_type=case_type,
                object_id=c.pk,
                object_public_id=c.public_id,
                object_label=str(c)[:300],
                party_id=c.requester_id,
                changes={"subject": c.subject, "priority": c.priority},
            )
            for c in cases
        ],
        batch_size=500,
    )
    open_breached = sum(1 for c in cases if c.breached and c.status in ("new", "open"))
    return (
        f"{len(cases)} cases in {len(queues)} queues ({len(breaches)} SLA breaches, "
        f"{open_breached} open and breached, {len(ratings)} CSAT ratings)"
    )


def wipe() -> None:
    """Delete what ``load`` created (cases by their demo audit entries, then the setup)."""
    from kith.interactions.models import Interaction
    from kith.service.models import BusinessCalendar, Case, Queue, SlaPolicy

    Interaction.objects.filter(source=INTERACTION_SOURCE).delete()
    case_ids = _demo_ids("case.created")
    for start in range(0, len(case_ids), 500):
        Case.objects.filter(pk__in=case_ids[start : start + 500]).delete()
    SlaPolicy.objects.filter(pk__in=_demo_ids("sla_policy.created")).delete()
    Queue.objects.filter(pk__in=_demo_ids("queue.created"), cases__isnull=True).delete()
    BusinessCalendar.objects.filter(
        pk__in=_demo_ids("calendar.created"), policies__isnull=True
    ).delete()
