"""The served worker's passes: woken by this process's events, idle passes send no query,
other processes' events found by the periodic poll, consecutive events delivered as a group."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.core import events, worker
from kith.core.models import EventDelivery, OutboxEvent
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def isolated_subscribers(alice):
    """Only the subscribers a test registers (the fixture users' events delivered first)."""
    events.deliver_pending()
    saved = dict(events._subscriptions)
    events._subscriptions.clear()
    yield events._subscriptions
    events._subscriptions.clear()
    events._subscriptions.update(saved)


@pytest.fixture
def clock():
    """``run_once`` as ``run_forever`` runs it: with the loop's clock, nothing due yet."""
    loop_clock = worker._Clock(interval=1.0)
    loop_clock.poll_at = time.monotonic() + 3600
    loop_clock.job_due = {name: time.time() + 3600 for name in worker.periodic_jobs()}
    events.arrived().clear()
    worker._tasks_enqueued.clear()
    worker._loop.clock = loop_clock
    yield loop_clock
    worker._loop.clock = None


def _pending(name: str = "person.created") -> int:
    return OutboxEvent.objects.filter(name=name, status=OutboxEvent.Status.PENDING).count()


def test_an_idle_pass_sends_no_query(clock):
    with CaptureQueriesContext(connection) as queries:
        assert worker.run_once() == 0
    assert len(queries) == 0


def test_an_event_emitted_here_wakes_the_worker(alice, isolated_subscribers, clock):
    seen = []
    events.subscriber("person.created", name="test.later", inline=False)(seen.append)
    make_person(alice)
    assert events.arrived().is_set()
    assert worker.run_once() == 1
    assert len(seen) == 1 and _pending() == 0
    assert not events.arrived().is_set()  # the pass consumed the signal


def test_another_process_event_is_found_by_the_poll(alice, isolated_subscribers, clock):
    seen = []
    events.subscriber("person.created", name="test.later", inline=False)(seen.append)
    make_person(alice)
    events.arrived().clear()  # as if another process had written the event
    assert worker.run_once() == 0 and _pending() == 1
    clock.poll_at = 0.0  # the poll period has run out
    assert worker.run_once() == 1 and _pending() == 0
    assert clock.poll_at > time.monotonic()  # and the next poll is a period away


def test_a_periodic_job_another_worker_claimed_is_not_asked_again_each_pass(clock):
    saved = dict(worker._jobs)
    worker._jobs.clear()
    calls = []
    try:
        worker.periodic("test.tick", every_seconds=60)(lambda: calls.append(1))
        cache.delete("kith:periodic:test.tick")
        cache.add("kith:periodic:test.tick", time.time(), timeout=60)  # the other worker
        worker.run_once()
        assert calls == []
        assert clock.job_due["test.tick"] > time.time() + 50
        with CaptureQueriesContext(connection) as queries:
            worker.run_once()
        assert len(queries) == 0
        clock.job_due["test.tick"] = 0.0  # its period ran out
        cache.delete("kith:periodic:test.tick")
        worker.run_once()
        assert calls == [1]
    finally:
        worker._jobs.clear()
        worker._jobs.update(saved)
        cache.delete("kith:periodic:test.tick")


def _deliver_counting(n: int, alice) -> int:
    """Create ``n`` people, deliver their events in one pass; the statements it took."""
    for i in range(n):
        make_person(alice, given=f"Group{i}", family="Member")
    with CaptureQueriesContext(connection) as queries:
        delivered = events.deliver_pending(limit=200)
    assert delivered == n
    return len(queries)


def test_consecutive_events_go_to_a_batch_handler_at_once(alice, isolated_subscribers):
    batches = []
    events.subscriber("person.created", name="test.grouped", inline=False)(
        lambda e: pytest.fail("the batch handler takes them")
    )
    events.batch_handler("test.grouped")(
        lambda batch, items: batches.append((batch.name, batch.batch_size, len(items)))
    )
    few = _deliver_counting(3, alice)
    many = _deliver_counting(40, alice)
    assert batches == [("person.created", 3, 3), ("person.created", 40, 40)]
    assert many == few  # a few statements per pass, whatever the number of events
    assert EventDelivery.objects.filter(subscriber="test.grouped").count() == 43
    assert _pending() == 0


def test_a_failing_event_in_a_group_fails_alone(alice, isolated_subscribers):
    def handler(event):
        if event.data["display_name"] == "Bad Apple":
            raise RuntimeError("bad apple")

    def batch(batch, items):
        raise RuntimeError("one of them is bad")

    events.subscriber("person.created", name="test.picky", inline=False)(handler)
    events.batch_handler("test.picky")(batch)
    make_person(alice, given="Good", family="One")
    make_person(alice, given="Bad", family="Apple")
    make_person(alice, given="Good", family="Two")
    assert events.deliver_pending() == 2
    bad = OutboxEvent.objects.get(name="person.created", data__display_name="Bad Apple")
    assert bad.status == OutboxEvent.Status.PENDING and "bad apple" in bad.last_error
    assert bad.available_at > bad.occurred_at  # backing off
    assert _pending() == 1
    assert EventDelivery.objects.filter(subscriber="test.picky").count() == 2


def test_a_group_skips_what_a_subscriber_already_has(alice, isolated_subscribers):
    seen = []
    events.subscriber("person.created", name="test.once", inline=False)(seen.append)
    events.batch_handler("test.once")(lambda batch, items: seen.extend(items))
    for i in range(3):
        make_person(alice, given=f"Once{i}", family="Only")
    first = OutboxEvent.objects.filter(name="person.created").order_by("id").first()
    EventDelivery.objects.create(
        event=first, subscriber="test.once", delivered_at=first.occurred_at
    )
    assert events.deliver_pending() == 3
    assert sorted(e.pk for e in seen) == sorted(
        OutboxEvent.objects.filter(name="person.created")
        .exclude(pk=first.pk)
        .values_list("pk", flat=True)
    )


def test_a_bulk_backlog_larger_than_a_pass_is_delivered_without_waiting_for_the_poll(
    alice, isolated_subscribers, clock, settings, monkeypatch
):
    """Each pass takes one bulk slice (``KITH_OUTBOX_BULK_ITEMS_PER_PASS``); when a slice
    was cut at that budget the loop claims the next one at once, not after the poll
    interval (an hour here): an import's events were delivered a slice a second."""
    import threading

    settings.KITH_OUTBOX_BULK_ITEMS_PER_PASS = 10
    # The loop drops connections like a request does; inside the test's transaction
    # that would close it (on PostgreSQL, losing the test's rows).
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)
    people = [make_person(alice) for _ in range(30)]
    events.deliver_pending()  # their own person.created events (no subscriber here)
    seen: list[int] = []
    stop = threading.Event()

    def handler(batch, items):
        seen.extend(e.object_id for e in items)
        if len(seen) == 30:
            stop.set()
            events.arrived().set()  # wake the loop from its wait for the next poll

    events.subscriber("test.bulk", name="test.bulk_sub", inline=False)(lambda e: None)
    events.batch_handler("test.bulk_sub")(handler)
    for start in (0, 10, 20):
        events.emit_batch(
            "test.bulk",
            object_type="people.party",
            items=[events.BatchItem(object_id=p.pk) for p in people[start : start + 10]],
        )
    clock.poll_at = 0.0
    clock.interval = 3600.0

    def deadline() -> None:  # the test's own: stop, and wake the loop from its wait
        stop.set()
        events.arrived().set()

    timer = threading.Timer(10.0, deadline)
    timer.start()
    try:
        worker._loop_until(stop, clock, interval=3600)
    finally:
        timer.cancel()
    assert sorted(seen) == sorted(p.pk for p in people)
    assert _pending("test.bulk") == 0


def test_a_long_periodic_job_lets_waiting_events_through_between_its_chunks(
    alice, isolated_subscribers, clock
):
    """Jobs and delivery share the worker's thread: a job working through a backlog
    calls ``yield_to_events`` between chunks, and the events waiting are delivered
    then, not after the whole backlog."""
    seen = []
    events.subscriber("person.created", name="test.later", inline=False)(seen.append)
    make_person(alice)
    make_person(alice)
    assert worker.yield_to_events() == 2
    assert len(seen) == 2 and _pending() == 0
    assert worker.yield_to_events() == 0  # nothing left waiting


def test_yielding_outside_the_worker_loop_delivers_nothing(alice, isolated_subscribers):
    """Tests and ``kith worker --once`` call jobs directly and deliver for themselves."""
    seen = []
    events.subscriber("person.created", name="test.later", inline=False)(seen.append)
    make_person(alice)
    assert worker.yield_to_events() == 0
    assert seen == [] and _pending() == 1
