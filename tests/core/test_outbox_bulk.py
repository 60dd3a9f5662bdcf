"""Bulk work in the outbox: batch rows, set-wise subscribers, lanes and the backlog report."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from kith.collab.models import Follow
from kith.core import events, worker
from kith.core.models import AuditEntry, EventDelivery, OutboxEvent
from kith.people import importing
from kith.people.models import ImportJob, Party
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def isolated_subscribers(alice):
    """Only the subscribers a test registers; the app's own come back afterwards."""
    events.deliver_pending()
    saved = dict(events._subscriptions)
    events._subscriptions.clear()
    yield events._subscriptions
    events._subscriptions.clear()
    events._subscriptions.update(saved)


def _batch(n: int, *, start: int = 1, name: str = "thing.created") -> OutboxEvent:
    return events.emit_batch(
        name,
        object_type="people.party",
        items=[events.BatchItem(i, None, {"n": i}) for i in range(start, start + n)],
        data={"job": "j1"},
    )


def test_a_batch_handler_gets_every_item_at_once(isolated_subscribers):
    calls = []
    events.subscriber("thing.created", name="test.setwise")(lambda e: calls.append("one"))
    events.batch_handler("test.setwise")(
        lambda batch, items: calls.append([(i.object_id, i.data) for i in items])
    )
    row = _batch(3)
    assert (row.lane, row.batch_size, row.status) == ("bulk", 3, "pending")
    assert events.deliver_pending() == 1
    assert calls == [
        [(1, {"job": "j1", "n": 1}), (2, {"job": "j1", "n": 2}), (3, {"job": "j1", "n": 3})]
    ]
    assert EventDelivery.objects.filter(event=row, subscriber="test.setwise").exists()


def test_a_subscriber_without_a_batch_handler_still_gets_each_event(isolated_subscribers):
    seen = []
    events.subscriber("thing.created", name="test.one_by_one")(
        lambda e: seen.append((e.name, e.object_id, e.data["n"], e.public_id))
    )
    row = _batch(2, start=7)
    events.deliver_pending()
    assert [s[:3] for s in seen] == [("thing.created", 7, 7), ("thing.created", 8, 8)]
    # Stand-in ids are stable, so handlers keyed on them stay idempotent on redelivery.
    assert [i.public_id for i in events.batch_items(row)] == [s[3] for s in seen]
    assert len({s[3] for s in seen}) == 2


def test_a_batch_nobody_wants_is_born_delivered(isolated_subscribers):
    assert _batch(5).status == OutboxEvent.Status.DONE
    assert events.emit_batch("x.y", object_type="people.party", items=[]) is None


def test_events_of_deferred_work_go_to_the_bulk_lane(alice, isolated_subscribers):
    events.subscriber("person.created", name="test.any")(lambda e: None)
    with events.deferred_delivery():
        make_person(alice, given="Bulk", family="One")
    make_person(alice, given="Live", family="One")
    lanes = dict(
        OutboxEvent.objects.filter(name="person.created").values_list("data__display_name", "lane")
    )
    assert lanes == {"Bulk One": "bulk", "Live One": "interactive"}


def test_interactive_events_overtake_a_bulk_backlog(alice, isolated_subscribers, settings):
    settings.KITH_OUTBOX_BULK_ITEMS_PER_PASS = 250
    order = []
    events.subscriber("thing.created", name="test.bulk")(lambda e: None)
    events.batch_handler("test.bulk")(lambda batch, items: order.append(("bulk", len(items))))
    events.subscriber("person.created", name="test.live")(
        lambda e: order.append(("live", e.data["display_name"]))
    )
    for k in range(10):
        _batch(100, start=k * 100)
    make_person(alice, given="Mention", family="Me")  # emitted after the whole backlog
    # One pass: the interactive event first, then a bounded slice of bulk work
    # (100 + 100 items, a third batch would pass the 250 budget).
    assert events.deliver_pending(limit=200) == 3
    assert order == [("live", "Mention Me"), ("bulk", 100), ("bulk", 100)]
    left = events.backlog()
    assert left["lanes"]["bulk"]["pending"] == 8 and left["lanes"]["bulk"]["events"] == 800
    assert left["lanes"]["interactive"]["pending"] == 0


def test_a_pass_takes_at_least_one_bulk_row_even_above_the_budget(isolated_subscribers):
    events.subscriber("thing.created", name="test.bulk")(lambda e: None)
    _batch(50)
    assert events.deliver_pending(bulk_items=10) == 1


def test_backlog_counts_rows_events_and_the_oldest_age(alice, isolated_subscribers):
    events.subscriber("thing.created", name="test.bulk")(lambda e: None)
    events.subscriber("person.created", name="test.live")(lambda e: None)
    _batch(40)
    _batch(2, start=100)
    make_person(alice)
    OutboxEvent.objects.filter(name="person.created").update(
        occurred_at=timezone.now() - timedelta(minutes=5)
    )
    failed = _batch(1, start=500)
    OutboxEvent.objects.filter(pk=failed.pk).update(status=OutboxEvent.Status.FAILED)
    report = events.backlog()
    assert report["lanes"]["bulk"]["pending"] == 2
    assert report["lanes"]["bulk"]["events"] == 42
    assert report["lanes"]["interactive"]["pending"] == 1
    assert report["lanes"]["interactive"]["events"] == 1
    assert 295 <= report["lanes"]["interactive"]["oldest_age_seconds"] <= 400
    assert (report["pending"], report["events"], report["failed"]) == (3, 43, 1)


def _import(actor, rows: int) -> None:
    content = "Name,Email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(rows))
    job = importing.create_import_job(
        actor=actor,
        kind="people",
        file_format="csv",
        file_name="bulk.csv",
        content=content,
        mapping=None,
        dry_run=False,
    )
    importing.run_import_job(job.pk)


def test_an_import_is_followed_set_wise_in_few_queries(alice, django_assert_max_num_queries):
    events.deliver_pending()
    _import(alice, 300)
    assert OutboxEvent.objects.filter(status="pending").count() == 1  # one batch of 300
    # The whole batch: claim, the parties, the follower, access, insert, audit, events,
    # settle: a few dozen queries for 300 parties (SQLite splits long inserts), where one
    # by one took several per party.
    with django_assert_max_num_queries(40):
        assert events.deliver_pending() == 1
    party_ct = ContentType.objects.get_for_model(Party)
    followed = set(
        Follow.objects.filter(target_type=party_ct, follower=alice, reason="auto").values_list(
            "target_id", flat=True
        )
    )
    assert followed == set(Party.objects.filter(kind="person").values_list("pk", flat=True))
    assert len(followed) == 300
    # Each follow has its audit entry, as one by one, labelled like str(follow).
    entries = AuditEntry.objects.filter(action="follow.created")
    assert entries.count() == 300
    assert set(entries.values_list("party_id", flat=True)) == followed
    some = entries.first()
    assert some.object_label == str(Follow.objects.get(pk=some.object_id))
    assert OutboxEvent.objects.get(name="follow.created").batch_size == 300
    # Redelivering the batch (a worker died after the work) adds nothing.
    batch = OutboxEvent.objects.get(name="person.created")
    EventDelivery.objects.filter(event=batch).delete()
    OutboxEvent.objects.filter(pk=batch.pk).update(status="pending", processed_at=None)
    events.deliver_pending()
    assert Follow.objects.filter(target_type=party_ct, follower=alice).count() == 300


def test_a_batch_follows_only_what_each_follower_may_see(alice, bob):
    """The owner of a private record follows it; an importing agent who cannot see a
    record does not, exactly as one by one."""
    events.deliver_pending()
    mine = make_person(alice, given="Private", family="Mine", visibility="private")
    events.deliver_pending()
    Follow.objects.all().delete()
    batch = events.emit_batch(
        "person.created",
        object_type="people.party",
        items=[events.BatchItem(mine.pk, mine.public_id, {})],
        actor=bob,
    )
    events.deliver_pending(ids=[batch.pk])
    followers = set(Follow.objects.values_list("follower__username", flat=True))
    assert followers == {"alice"}  # the owner; bob (the actor) cannot see it


def test_the_worker_drains_an_import_and_delivers_a_mention_in_between(
    alice, monkeypatch, settings
):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 100)
    settings.KITH_OUTBOX_BULK_ITEMS_PER_PASS = 100
    events.deliver_pending()
    _import(alice, 500)
    assert events.backlog()["lanes"]["bulk"]["events"] == 500
    live = make_person(alice, given="Waiting", family="Person")  # interactive, after the import
    worker.run_once()
    assert not OutboxEvent.objects.filter(
        name="person.created", object_id=live.pk, batch_size=0, status="pending"
    ).exists()
    assert events.backlog()["lanes"]["bulk"]["events"] == 400  # one slice per pass
    passes = 0
    while events.backlog()["pending"] and passes < 20:
        worker.run_once()
        passes += 1
    assert events.backlog()["pending"] == 0 and passes == 4


def test_inline_delivery_does_not_look_at_the_bulk_lane(alice, isolated_subscribers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    events.subscriber("thing.created", name="test.bulk")(lambda e: None)
    events.subscriber("person.created", name="test.live")(lambda e: None)
    _batch(10)
    live = make_person(alice)
    event = OutboxEvent.objects.get(name="person.created", object_id=live.pk)
    with CaptureQueriesContext(connection) as queries:
        claimed = events.claim(ids=[event.pk])
    assert [e.pk for e in claimed] == [event.pk]
    assert not any("'bulk'" in q["sql"] for q in queries)
    assert OutboxEvent.objects.get(lane="bulk").locked_until is None


def test_an_import_lets_interactive_events_through_between_chunks(alice, monkeypatch):
    """In the worker an import holds the thread; a mention made meanwhile (by another
    request: an interactive event) is delivered after the next chunk, not after the
    whole file."""
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    events.deliver_pending()
    seen: list[int] = []

    def rows_done() -> int:
        return ImportJob.objects.get().processed_rows

    events.subscriber("mention.made", name="test.worker_only", inline=False)(
        lambda e: seen.append(rows_done())
    )
    try:
        content = "Name\n" + "".join(f"Row {i}\n" for i in range(6))
        job = importing.create_import_job(
            actor=alice,
            kind="people",
            file_format="csv",
            file_name="slow.csv",
            content=content,
            mapping=None,
            dry_run=False,
        )

        def progress(j):
            if j.processed_rows == 2:  # a request elsewhere mentions someone
                events.emit("mention.made", obj=alice, lane="interactive")

        importing.run_import_job(job.pk, progress=progress)
    finally:
        events._subscriptions.pop("test.worker_only", None)
    assert seen == [2]  # delivered right after the first chunk, mid-import
    assert OutboxEvent.objects.get(name="mention.made").status == "done"
