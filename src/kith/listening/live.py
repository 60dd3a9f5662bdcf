"""Live updates of the engagement queue over the existing event stream (``kith.collab.live``).

Every change to a mention (received, assigned, answered, converted, dismissed, spam) is a
domain event; this subscriber turns it, after commit, into one small message on the
``listening:queue`` channel. The message carries only the mention's public id and the
event's name: the queue page's stream (``kith.listening.views.stream``) re-checks access
for its reader and the page re-reads its rows, so nothing a reader may not see travels.
"""

from __future__ import annotations

from kith.collab import live
from kith.core.events import batch_handler, subscriber
from kith.core.models import OutboxEvent

QUEUE_CHANNEL = "listening:queue"

# The mention events the queue cares about (named by kith.listening.services).
QUEUE_EVENTS = (
    "mention.received",
    "mention.assigned",
    "mention.replied",
    "mention.converted",
    "mention.dismissed",
    "mention.marked_spam",
    "mention.reopened",
)


@subscriber(*QUEUE_EVENTS, name="listening.live_queue")
def push_queue_change(event: OutboxEvent) -> None:
    """Tell open queue pages that a mention changed (best effort: live is a convenience)."""
    mention = str(event.object_public_id) if event.object_public_id else ""
    live.publish(QUEUE_CHANNEL, {"type": "mention", "event": event.name, "mention": mention})


@batch_handler("listening.live_queue")
def push_queue_batch(batch: OutboxEvent, items: list[OutboxEvent]) -> None:
    """A batch of new mentions (one ingest chunk) is one message, not one per mention."""
    live.publish(QUEUE_CHANNEL, {"type": "mention", "event": batch.name, "mention": ""})
