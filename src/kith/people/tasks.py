"""Background tasks for people: running imports."""

from __future__ import annotations

from django_tasks import task

from kith.core.worker import BULK_QUEUE
from kith.people import importing
from kith.people.models import ImportJob


@task(queue_name=BULK_QUEUE)
def run_import(job_id: int) -> dict[str, int | str]:
    """Run the import job ``job_id`` to the end (or resume it after a worker died)."""
    job = importing.run_import_job(job_id)
    return {
        "status": job.status,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "rejected": job.error_count,
    }


def enqueue_import(job: ImportJob) -> None:
    """Queue ``job`` for the worker.

    Enqueued directly rather than on commit: the database task backend stores the
    task in the same transaction as the job, so both exist or neither does.
    """
    run_import.enqueue(job.pk)
