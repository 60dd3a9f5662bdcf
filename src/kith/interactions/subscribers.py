"""Event subscribers that write to the timeline.

Role changes are part of a person's story, so ``relationship.*`` events become
system interactions. Each uses the event id as ``external_id``: a redelivered event
finds its interaction already there and writes nothing.
"""

from __future__ import annotations

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
            "occurred_at": event.occurred_at,
            "summary": summary[:300],
        },
    )
