"""The outbox: events commit with their change, and delivery survives a worker crash."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from kith.core import events
from kith.core.models import EventDelivery, OutboxEvent
from kith.interactions.models import Interaction
from kith.people import services
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def isolated_subscribers(alice):
    """Only the subscribers a test registers; the app's own come back afterwards.

    Events from creating the fixture users are delivered first, so each test sees only its own.
    """
    events.deliver_pending()
    saved = dict(events._subscriptions)
    events._subscriptions.clear()
    yield events._subscriptions
    events._subscriptions.clear()
    events._subscriptions.update(saved)


def test_event_exists_only_if_its_change_committed(alice, isolated_subscribers):
    events.subscriber("person.created", name="test.listener")(lambda event: None)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_person(alice, given="Rolled", family="Back")
        raise RuntimeError("abort")
    assert not OutboxEvent.objects.filter(name="person.created").exists()
    make_person(alice, given="Kept", family="Person")
    event = OutboxEvent.objects.get(name="person.created")
    assert event.data == {"display_name": "Kept Person"}
    assert event.status == OutboxEvent.Status.PENDING


def test_an_event_nobody_wants_is_recorded_already_delivered(alice, isolated_subscribers):
    make_person(alice, given="Unheard", family="Event")
    event = OutboxEvent.objects.get(name="person.created")
    assert event.status == OutboxEvent.Status.DONE and event.processed_at is not None
    assert events.deliver_pending() == 0


def test_each_subscriber_gets_each_event_once(alice, isolated_subscribers):
    seen = []
    events.subscriber("person.created", name="test.recorder")(lambda e: seen.append(e.pk))
    make_person(alice)
    assert events.deliver_pending() == 1
    assert events.deliver_pending() == 0
    assert len(seen) == 1
    assert OutboxEvent.objects.get(name="person.created").status == OutboxEvent.Status.DONE


def test_delivery_resumes_after_a_subscriber_crash_without_repeating_the_others(
    alice, isolated_subscribers
):
    calls = {"a": 0, "b": 0}

    def a(event):
        calls["a"] += 1

    def b(event):
        calls["b"] += 1
        if calls["b"] == 1:
            raise ConnectionError("worker lost its connection mid-delivery")

    events.subscriber("person.created", name="test.a")(a)
    events.subscriber("person.created", name="test.b")(b)
    make_person(alice)

    assert events.deliver_pending() == 0
    event = OutboxEvent.objects.get(name="person.created")
    assert event.status == OutboxEvent.Status.PENDING
    assert "ConnectionError" in event.last_error
    assert list(EventDelivery.objects.values_list("subscriber", flat=True)) == ["test.a"]

    # The retry waits for its backoff; pretend the time has come.
    OutboxEvent.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    assert events.deliver_pending() == 1
    assert calls == {"a": 1, "b": 2}
    assert OutboxEvent.objects.get(name="person.created").status == OutboxEvent.Status.DONE


def test_a_dead_workers_lease_expires_and_another_worker_delivers(alice, isolated_subscribers):
    seen = []
    events.subscriber("person.created", name="test.recorder")(lambda e: seen.append(e.pk))
    make_person(alice)

    # Worker 1 claims the event and dies before delivering anything.
    claimed = events.claim(worker_id="worker-1")
    assert len(claimed) == 1
    # While its lease runs, nobody else takes the event.
    assert events.deliver_pending(worker_id="worker-2") == 0
    assert seen == []
    # The lease runs out: worker 2 delivers.
    OutboxEvent.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert events.deliver_pending(worker_id="worker-2") == 1
    assert len(seen) == 1
    assert OutboxEvent.objects.get(name="person.created").locked_by == "worker-2"


def test_failed_events_stop_retrying_after_max_attempts(alice, isolated_subscribers):
    def broken(event):
        raise ValueError("always fails")

    events.subscriber("person.created", name="test.broken")(broken)
    make_person(alice)
    for _ in range(events.MAX_ATTEMPTS):
        OutboxEvent.objects.update(available_at=timezone.now() - timedelta(seconds=1))
        events.deliver_pending()
    assert OutboxEvent.objects.get(name="person.created").status == OutboxEvent.Status.FAILED


def test_inline_delivery_after_commit(alice, django_capture_on_commit_callbacks):
    person = make_person(alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_relationship(actor=alice, subject=person, role="customer")
    entry = Interaction.objects.get(party=person, channel="system")
    assert entry.summary == "Became Customer of us"


def test_redelivering_the_timeline_event_writes_one_entry(alice):
    person = make_person(alice)
    acme = make_org(alice, "Acme")
    services.add_relationship(actor=alice, subject=person, role="employee", object=acme)
    events.deliver_pending()
    # Simulate a crash after the subscriber's work but before the event was marked done.
    event = OutboxEvent.objects.get(name="relationship.created")
    EventDelivery.objects.filter(event=event).delete()
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=OutboxEvent.Status.PENDING, processed_at=None
    )
    events.deliver_pending()
    entries = Interaction.objects.filter(party=person, channel="system")
    assert entries.count() == 1
    assert entries.get().summary == "Became Employee of Acme"


def test_worker_command_runs_one_pass(alice, isolated_subscribers):
    from io import StringIO

    from django.core.management import call_command

    seen = []
    events.subscriber("person.created", name="test.seen")(lambda event: seen.append(event.pk))
    make_person(alice)
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert "delivered 1 events" in out.getvalue()
    assert len(seen) == 1
    assert not OutboxEvent.objects.exclude(status=OutboxEvent.Status.DONE).exists()


def test_worker_only_subscribers_wait_for_the_worker(
    alice, isolated_subscribers, django_capture_on_commit_callbacks
):
    ran = []
    events.subscriber("person.created", name="test.inline")(lambda e: ran.append("inline"))
    events.subscriber("person.created", name="test.later", inline=False)(
        lambda e: ran.append("later")
    )
    with django_capture_on_commit_callbacks(execute=True):
        make_person(alice)
    assert ran == ["inline"]
    event = OutboxEvent.objects.get(name="person.created")
    assert event.status == OutboxEvent.Status.PENDING and event.locked_until is None
    assert event.attempts == 0  # handing it to the worker is not a failed attempt
    assert events.deliver_pending() == 1
    assert ran == ["inline", "later"]
    assert OutboxEvent.objects.get(pk=event.pk).status == OutboxEvent.Status.DONE


def test_an_event_only_the_worker_wants_is_not_delivered_in_the_request(
    alice, isolated_subscribers, django_capture_on_commit_callbacks
):
    events.subscriber("person.created", name="test.later", inline=False)(lambda e: None)
    with django_capture_on_commit_callbacks() as callbacks:
        make_person(alice)
    assert callbacks == []
    assert OutboxEvent.objects.get(name="person.created").status == OutboxEvent.Status.PENDING
