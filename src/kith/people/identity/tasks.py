"""Worker side of identity resolution: training runs, scoring new people, weekly retrain."""

from __future__ import annotations

from django_tasks import task

from kith.core.events import batch_handler, subscriber
from kith.core.worker import BULK_QUEUE
from kith.people.identity import service


@task(queue_name=BULK_QUEUE)
def train_identity_task(run_id: int) -> dict[str, int | str]:
    """Train the identity model for the queued run ``run_id`` and store suggestions."""
    run = service.run_training(run_id=run_id)
    return {"status": run.status, "records": run.record_count, "suggestions": run.suggestion_count}


# Not inline, and only queued here: the periodic job ``people.identity_score_new`` scores
# everyone queued in one batch (see PendingIdentityScore for why).
@subscriber("person.created", name="identity.score_new", inline=False)
def score_new(event) -> None:
    if event.object_id:
        service.queue_new_people([event.object_id])


@batch_handler("identity.score_new")
def score_new_batch(batch, items) -> None:
    service.queue_new_people([e.object_id for e in items if e.object_id])


# A changed person is scored again, which also stores their blocking keys afresh: the
# keys are how later people find them (IdentityKey). A removed contact point needs
# nothing: the key it leaves finds a candidate that the fresh read then drops.
CHANGE_EVENTS = (
    "person.updated",
    "person.merged",
    "person.merge_undone",
    "contact_point.added",
    "contact_point.updated",
)


@subscriber(*CHANGE_EVENTS, name="identity.score_changed", inline=False)
def score_changed(event) -> None:
    service.queue_changed_people([event])


@batch_handler("identity.score_changed")
def score_changed_batch(batch, items) -> None:
    service.queue_changed_people(items)
