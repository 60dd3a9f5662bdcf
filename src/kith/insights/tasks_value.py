"""Background task for customer value: the CLV / CRV computation of a queued run."""

from __future__ import annotations

from django_tasks import task

from kith.core.worker import BULK_QUEUE


@task(queue_name=BULK_QUEUE)
def compute_value_task(run_id: int) -> dict[str, int | str]:
    """Compute customer value (CLV, CRV, segments) for the queued run ``run_id``."""
    from kith.insights import value

    run = value.run_value(run_id=run_id)
    return {"status": run.status, "customers": run.customer_count, "scored": run.scored_count}
