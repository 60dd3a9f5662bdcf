"""Domain events into the timeline: what a converted mention became shows on the person.

The mention itself is already on the matched person's timeline (``services.ingest``
mirrors it). When an agent turns it into a case, an idea or a deal, the new record is
made through its own app's service, and a case or deal does not write a timeline entry
of its own when it is opened; so on ``mention.converted`` this subscriber adds one entry
on the person's timeline: "Case opened from a mention on <source>: <subject>", linked to
the record (``related``), so the record's own access rule decides who sees it (a mirror
obeys its source).

Idempotent: the entry's (source, external id) is the mention's public id, so a second
delivery of the event finds it and writes nothing.
"""

from __future__ import annotations

import logging

from django.apps import apps

from kith.core.events import subscriber
from kith.core.models import OutboxEvent

logger = logging.getLogger("kith.listening")

TIMELINE_SOURCE = "listening"
KIND_MODELS = {"case": "service.Case", "deal": "sales.Deal", "idea": "ideas.Idea"}
KIND_WORDS = {"case": "Case", "deal": "Lead", "idea": "Idea"}


def _title(record) -> str:
    for attr in ("subject", "title", "name"):
        value = getattr(record, attr, "")
        if value:
            return str(value)
    return str(record)


@subscriber("mention.converted", name="listening.converted_on_timeline")
def converted_on_timeline(event: OutboxEvent) -> None:
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction
    from kith.listening.models import Mention
    from kith.people.models import Party

    mention = Mention.objects.select_related("source", "person").filter(pk=event.object_id).first()
    if mention is None or mention.person is None or not mention.converted_id:
        return
    if mention.person.status != Party.Status.ACTIVE:
        return
    kind = mention.converted_kind
    label = KIND_MODELS.get(kind)
    if label is None:
        return
    record = apps.get_model(label).objects.filter(pk=mention.converted_id).first()
    if record is None:
        return
    interaction_services.log_interaction(
        actor=None,
        party=mention.person,
        channel=Channel.SOCIAL,
        direction=Direction.INTERNAL,
        kind=f"mention_to_{kind}",
        occurred_at=event.occurred_at,
        summary=(
            f"{KIND_WORDS[kind]} opened from a mention on {mention.source.name}: {_title(record)}"
        )[:300],
        source=TIMELINE_SOURCE,
        external_id=f"converted:{mention.public_id}",
        related=record,
    )
