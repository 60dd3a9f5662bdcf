"""Demo activities and meetings for ``kith demo``.

For each demo staff login that can write (alice, mia, bob): activities from three
weeks before the anchor to three weeks after it, about demo people. Past ones are
mostly done (each logged on the person's timeline, some with a chained follow-up);
the rest are overdue. Meetings with demo people (and sometimes a colleague) over the
same weeks, each on its attendees' timelines, as the services would have written them.

Written with bulk inserts inside the demo loader's transaction; every row gets a
``demo`` audit entry, which is how ``wipe`` finds exactly what it made.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models

from kith.accounts.models import User
from kith.core import timezones
from kith.core.models import AuditEntry
from kith.interactions.models import Channel, Direction, Interaction
from kith.people.access import scope_parties
from kith.people.models import Party
from kith.work.models import Activity, ActivityType, Meeting, MeetingAttendee
from kith.work.services import SOURCE

DEMO_CHANNEL = "demo"
USERS = ("alice", "mia", "bob")
ACTIVITIES_PER_USER = 24
MEETINGS_PER_USER = 8
SPAN_DAYS = 21
ZONES = ("Europe/Lisbon", "Europe/Berlin", "America/New_York", "Asia/Singapore")

SUBJECTS = {
    "call": [
        "Call about the renewal",
        "Follow-up call",
        "Check in after onboarding",
        "Pricing call",
    ],
    "email": [
        "Send the proposal",
        "E-mail the case study",
        "Reply about invoices",
        "Share the roadmap",
    ],
    "meeting": ["Plan a demo", "Book the quarterly review", "Arrange site visit"],
    "todo": ["Update the account plan", "Prepare the quote", "Review the contract", "Log feedback"],
}
OUTCOMES = [
    "Interested; wants a quote for next quarter.",
    "Left a voicemail.",
    "Agreed on next steps.",
    "Not now; try again in spring.",
    "Sent; they confirmed receipt.",
]
MEETING_TITLES = [
    "Quarterly business review",
    "Product demo",
    "Onboarding workshop",
    "Renewal negotiation",
    "Roadmap preview",
    "Coffee catch-up",
]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _demo_ids(action: str) -> list[int]:
    return list(
        AuditEntry.objects.filter(channel=DEMO_CHANNEL, action=action).values_list(
            "object_id", flat=True
        )
    )


def _audit(objs: list[models.Model], action: str, now: dt.datetime) -> list[AuditEntry]:
    if not objs:
        return []
    ctype = ContentType.objects.get_for_model(objs[0])
    return [
        AuditEntry(
            occurred_at=now,
            actor_label="kith demo",
            channel=DEMO_CHANNEL,
            action=action,
            object_type=ctype,
            object_id=o.pk,
            object_public_id=o.public_id,
            object_label=str(o)[:300],
            party_id=getattr(o, "party_id", None),
        )
        for o in objs
    ]


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo activities and meetings; returns a one-line summary."""
    rng = random.Random(seed * 31 + 3)
    users = [u for name in USERS for u in User.objects.filter(username=name, kind="staff")[:1]]
    people = list(
        Party.objects.filter(
            pk__in=_demo_ids("person.created"), kind=Party.Kind.PERSON, status=Party.Status.ACTIVE
        ).order_by("id")
    )
    if not users or not people:
        return "no activities (no demo users or people)"
    types = {t.slug: t for t in ActivityType.objects.filter(slug__in=SUBJECTS)}
    party_type = ContentType.objects.get_for_model(Party)
    now = dt.datetime.combine(anchor, dt.time(12), tzinfo=dt.UTC)

    activities: list[Activity] = []
    chains: list[tuple[int, int]] = []  # (index of previous, index of follow-up)
    # Each user works on people they may see (bob, an agent, not on others' private ones).
    visible: dict[int, list[Party]] = {}
    for user in users:
        seen = set(scope_parties(user).values_list("pk", flat=True))
        visible[user.pk] = [p for p in people if p.pk in seen] or people
    for user in users:
        for _ in range(ACTIVITIES_PER_USER):
            slug = rng.choice(list(SUBJECTS))
            party = rng.choice(visible[user.pk])
            deadline = anchor + dt.timedelta(days=rng.randint(-SPAN_DAYS, SPAN_DAYS))
            timed = rng.random() < 0.3
            a = Activity(
                public_id=_uuid(rng),
                type=types[slug],
                summary=rng.choice(SUBJECTS[slug]),
                record_type=party_type,
                record_id=party.pk,
                party=party,
                assignee=user,
                created_by=user,
                deadline=deadline,
                deadline_time=dt.time(rng.choice([9, 10, 11, 14, 15, 16]), 0) if timed else None,
                timezone=user.timezone or "UTC",
            )
            if deadline < anchor and rng.random() < 0.7:
                a.done_at = dt.datetime.combine(
                    deadline, dt.time(rng.randint(8, 17), rng.choice([0, 15, 30, 45])), dt.UTC
                )
                a.done_by = user
                a.outcome = rng.choice(OUTCOMES)
                if rng.random() < 0.4:
                    # A chained follow-up a few days later, about the same person.
                    nxt = rng.choice(list(SUBJECTS))
                    follow = Activity(
                        public_id=_uuid(rng),
                        type=types[nxt],
                        summary=rng.choice(SUBJECTS[nxt]),
                        record_type=party_type,
                        record_id=party.pk,
                        party=party,
                        assignee=user,
                        created_by=user,
                        deadline=deadline + dt.timedelta(days=rng.randint(2, 10)),
                        timezone=a.timezone,
                    )
                    activities.append(a)
                    activities.append(follow)
                    chains.append((len(activities) - 2, len(activities) - 1))
                    continue
            activities.append(a)
    Activity.objects.bulk_create(activities, batch_size=500)
    for prev, follow in chains:
        activities[follow].previous_id = activities[prev].pk
    Activity.objects.bulk_update([activities[f] for _, f in chains], ["previous"], batch_size=500)

    activity_type = ContentType.objects.get_for_model(Activity)
    interactions = [
        Interaction(
            public_id=uuid.uuid5(a.public_id, "timeline"),
            party_id=a.party_id,
            channel=a.type.channel if a.type.channel in Channel.values else Channel.SYSTEM,
            direction=a.type.direction,
            kind="activity",
            occurred_at=a.done_at,
            summary=f"{a.type.name}: {a.summary}",
            body=a.outcome,
            source=SOURCE,
            external_id=f"activity:{a.public_id}",
            actor=a.done_by,
            related_type=activity_type,
            related_id=a.pk,
        )
        for a in activities
        if a.done_at is not None
    ]

    meetings: list[Meeting] = []
    attendee_specs: list[tuple[int, list[Party], list[User]]] = []
    for user in users:
        for _ in range(MEETINGS_PER_USER):
            zone_name = rng.choice(ZONES)
            day = anchor + dt.timedelta(days=rng.randint(-SPAN_DAYS // 1, SPAN_DAYS))
            local = dt.datetime.combine(
                day, dt.time(rng.randint(9, 16), rng.choice([0, 30])), timezones.zone(zone_name)
            )
            start = local.astimezone(dt.UTC)
            public_id = _uuid(rng)
            online = rng.random() < 0.5
            meetings.append(
                Meeting(
                    public_id=public_id,
                    title=rng.choice(MEETING_TITLES),
                    start=start,
                    end=start + dt.timedelta(minutes=rng.choice([30, 45, 60, 90])),
                    timezone=zone_name,
                    location="" if online else rng.choice(["Head office", "Their office", "Café"]),
                    url=f"https://meet.example.com/{public_id.hex[:10]}" if online else "",
                    organizer=user,
                    created_by=user,
                    uid=f"{public_id}@kith",
                    source="demo",
                )
            )
            pool = visible[user.pk]
            guests = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
            colleagues = [u for u in users if u.pk != user.pk and rng.random() < 0.3]
            attendee_specs.append((len(meetings) - 1, guests, colleagues))
    Meeting.objects.bulk_create(meetings, batch_size=500)
    meeting_type = ContentType.objects.get_for_model(Meeting)
    attendees: list[MeetingAttendee] = []
    for index, guests, colleagues in attendee_specs:
        m = meetings[index]
        for p in guests:
            attendees.append(
                MeetingAttendee(
                    meeting=m,
                    party=p,
                    name=p.display_name,
                    response=rng.choice(["accepted", "accepted", "tentative", "needs-action"]),
                )
            )
            interactions.append(
                Interaction(
                    public_id=uuid.uuid5(m.public_id, str(p.public_id)),
                    party=p,
                    channel=Channel.MEETING,
                    direction=Direction.OUTBOUND,
                    kind="meeting",
                    occurred_at=m.start,
                    summary=f"Meeting: {m.title}",
                    body=m.location or m.url,
                    source=SOURCE,
                    external_id=f"meeting:{m.public_id}:{p.public_id}",
                    actor=m.organizer,
                    related_type=meeting_type,
                    related_id=m.pk,
                )
            )
        for u in colleagues:
            attendees.append(
                MeetingAttendee(
                    meeting=m, user=u, name=u.get_full_name() or u.username, response="accepted"
                )
            )
    MeetingAttendee.objects.bulk_create(attendees, batch_size=1000)
    Interaction.objects.bulk_create(interactions, batch_size=1000)
    AuditEntry.objects.bulk_create(
        _audit(activities, "activity.created", now) + _audit(meetings, "meeting.created", now),
        batch_size=1000,
    )
    done = sum(1 for a in activities if a.done_at)
    return (
        f"{len(activities)} activities ({done} done, {len(chains)} chained follow-ups) "
        f"and {len(meetings)} meetings for {len(users)} users"
    )


def wipe() -> None:
    """Delete the demo's activities and meetings and their timeline entries (only those)."""
    for model, action in ((Activity, "activity.created"), (Meeting, "meeting.created")):
        ids = _demo_ids(action)
        Interaction.objects.filter(
            source=SOURCE,
            related_type=ContentType.objects.get_for_model(model),
            related_id__in=ids,
        ).delete()
        model.objects.filter(pk__in=ids).delete()
