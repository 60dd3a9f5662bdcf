"""Background tasks for insights: computing the influence graph."""

from __future__ import annotations

from django_tasks import task

from kith.core.worker import BULK_QUEUE
from kith.insights import services


@task(queue_name=BULK_QUEUE)
def compute_influence_task(run_id: int) -> dict[str, int | str]:
    """Compute the influence graph for the queued run ``run_id``."""
    run = services.run_influence(run_id=run_id)
    return {"status": run.status, "nodes": run.node_count, "edges": run.edge_count}
