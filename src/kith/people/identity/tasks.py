"""Worker side of identity resolution: training runs, scoring new people, weekly retrain."""

from __future__ import annotations

from django_tasks import task

from kith.core.events import batch_handler, subscriber
from kith.people.identity import service


@task()
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
