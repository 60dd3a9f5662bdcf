"""Event subscribers that write to the timeline.

Role changes are part of a person's story, so ``relationship.*`` events become
system interactions. Each uses the event id as ``external_id``: a redelivered event
finds its interaction already there and writes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kith.core.events import subscriber
from kith.core.models import OutboxEvent
from kith.interactions.models import Channel, Direction, Interaction
from kith.people.models import Party

TIMELINE_SOURCE = "kith-events"

VERBS = {
    "relationship.created": "became",
    "relationship.ended": "stopped being",
    "relationship.deleted": "no longer recorded as",
}


def _as_date(value) -> dt.date | None:
    """A date from an event payload (a date, or its ISO text after the JSON round trip)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def role_change_date(event: OutboxEvent) -> dt.datetime:
    """When a role change belongs on the timeline: the day it took effect, not the day
    it was typed. A new role sits at its ``valid_from``, an ended role at its
    ``valid_to``; without a date (or for a deletion) the event's own time."""
    data = event.data or {}
    day = None
    if event.name == "relationship.created":
        day = _as_date(data.get("valid_from"))
    elif event.name == "relationship.ended":
        day = _as_date(data.get("valid_to"))
    if day is None:
        return event.occurred_at
    if day == timezone.localdate(event.occurred_at):
        # Entered on the day it took effect: keep the real time of day, so it sorts
        # among that day's other entries as it happened.
        return event.occurred_at
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


@subscriber(*VERBS, name="timeline.roles")
def role_change_to_timeline(event: OutboxEvent) -> None:
    data = event.data
    party = Party.objects.filter(public_id=data.get("subject")).first()
    if party is None or party.status != Party.Status.ACTIVE:
        return
    target = data.get("object_name") or "us"
    when = ""
    if event.name == "relationship.created" and data.get("valid_from"):
        when = f" from {data['valid_from']}"
    if event.name == "relationship.ended" and data.get("valid_to"):
        when = f" on {data['valid_to']}"
    summary = f"{VERBS[event.name].capitalize()} {data.get('role_name', data.get('role'))} of {target}{when}"
    Interaction.objects.get_or_create(
        source=TIMELINE_SOURCE,
        external_id=f"event:{event.public_id}",
        defaults={
            "party": party,
            "channel": Channel.SYSTEM,
            "direction": Direction.INTERNAL,
            "kind": event.name.replace(".", "_"),
            "occurred_at": role_change_date(event),
            "summary": summary[:300],
        },
    )
