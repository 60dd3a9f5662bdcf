"""Several workers drain one import's backlog at once (real threads on PostgreSQL).

Each batch must be delivered once per subscriber, each imported party followed once by
its importer, and every audit entry written once, whichever worker claimed what.
"""

from __future__ import annotations

import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from kith.collab.models import Follow
from kith.core import events
from kith.core.models import AuditEntry, EventDelivery, OutboxEvent
from kith.people import importing
from kith.people.models import Party

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("restore_migration_seed"),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SKIPPED ON SQLITE: real concurrent writers need PostgreSQL (SQLite "
            "serialises writers); run with DATABASE_URL=postgres://…"
        )


def test_four_workers_drain_an_import_once(alice, monkeypatch, settings):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 50)
    settings.KITH_OUTBOX_BULK_ITEMS_PER_PASS = 50
    events.deliver_pending()
    content = "Name,Email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(600))
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="many.csv",
        content=content,
        mapping=None,
        dry_run=False,
    )
    importing.run_import_job(job.pk)
    assert OutboxEvent.objects.filter(status="pending", lane="bulk").count() == 12

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            while events.deliver_pending(worker_id=f"w{i}", limit=10):
                pass
        except BaseException as exc:
            barrier.abort()
            errors.append(exc)
        finally:
            connection.close()

    connection.close()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert events.backlog()["pending"] == 0
    batches = OutboxEvent.objects.filter(name="person.created")
    assert batches.count() == 12 and set(batches.values_list("status", flat=True)) == {"done"}
    # Each batch once per subscriber; several workers took part.
    deliveries = EventDelivery.objects.filter(event__in=batches, subscriber="collab.auto_follow")
    assert deliveries.count() == 12
    assert len(set(batches.values_list("locked_by", flat=True))) >= 2
    party_ct = ContentType.objects.get_for_model(Party)
    follows = Follow.objects.filter(target_type=party_ct, follower=alice)
    assert follows.count() == 600
    assert AuditEntry.objects.filter(action="follow.created").count() == 600
