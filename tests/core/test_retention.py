"""Retention of plumbing rows (kith.core.retention): delivered events with their delivery
rows, idempotency keys and finished background tasks go after their time; pending work,
dead letters and young rows stay; the job is bounded, registered, and ``kith prune`` runs it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from kith.core import events, retention, worker
from kith.core.models import EventDelivery, IdempotencyRecord, OutboxEvent
from kith.people.models import Party

pytestmark = pytest.mark.django_db


def _event(status: str, age: timedelta, *, subscribers: int = 0) -> OutboxEvent:
    at = timezone.now() - age
    event = OutboxEvent.objects.create(
        name="test.happened",
        occurred_at=at,
        available_at=at,
        object_type="people.party",
        object_id=1,
        status=status,
        processed_at=at if status == OutboxEvent.Status.DONE else None,
    )
    for n in range(subscribers):
        EventDelivery.objects.create(event=event, subscriber=f"test.s{n}", delivered_at=at)
    return event


@pytest.fixture
def quiet_outbox(alice):
    """Only this test's events: those of making the fixtures are delivered and removed."""
    events.deliver_pending()
    EventDelivery.objects.all().delete()
    OutboxEvent.objects.all().delete()


def test_delivered_events_past_their_days_go_with_their_deliveries(quiet_outbox, settings):
    settings.KITH_OUTBOX_KEEP_DAYS = 7
    old = _event(OutboxEvent.Status.DONE, timedelta(days=8), subscribers=3)
    young = _event(OutboxEvent.Status.DONE, timedelta(days=6), subscribers=2)
    stuck = _event(OutboxEvent.Status.PENDING, timedelta(days=30))
    dead = _event(OutboxEvent.Status.FAILED, timedelta(days=30), subscribers=1)

    pruned = retention.prune()

    assert (pruned.events, pruned.deliveries) == (1, 3)
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {young.pk, stuck.pk, dead.pk}
    assert not EventDelivery.objects.filter(event_id=old.pk).exists()
    assert EventDelivery.objects.filter(event_id=young.pk).count() == 2
    assert EventDelivery.objects.filter(event_id=dead.pk).count() == 1
    assert retention.prune().total == 0  # nothing left past its time


def test_the_setting_decides_how_long_events_stay(quiet_outbox, settings):
    _event(OutboxEvent.Status.DONE, timedelta(days=3))
    settings.KITH_OUTBOX_KEEP_DAYS = 7
    assert retention.prune().events == 0
    settings.KITH_OUTBOX_KEEP_DAYS = 2
    assert retention.prune().events == 1


def test_a_run_stops_at_its_budget_and_the_next_goes_on(quiet_outbox, settings, monkeypatch):
    settings.KITH_OUTBOX_KEEP_DAYS = 1
    monkeypatch.setattr(retention, "BATCH", 2)
    for _ in range(5):
        _event(OutboxEvent.Status.DONE, timedelta(days=2), subscribers=1)

    first = retention.prune(budget_seconds=0)  # one batch, then out of time
    assert (first.events, first.deliveries, first.more) == (2, 2, ["events"])
    assert OutboxEvent.objects.count() == 3

    rest = retention.prune(budget_seconds=None)
    assert (rest.events, rest.deliveries, rest.more) == (3, 3, [])
    assert not OutboxEvent.objects.exists() and not EventDelivery.objects.exists()


def test_an_idempotency_key_replays_within_its_hours_and_is_free_afterwards(
    api_as, alice, settings
):
    settings.KITH_IDEMPOTENCY_KEEP_HOURS = 24
    api = api_as(alice)
    body = {"given_name": "Ida", "family_name": "Empotent"}
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = api.post("/api/people", body, headers=key)
    assert first.status_code == 201

    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23))
    assert retention.prune().idempotency_keys == 0
    replay = api.post("/api/people", body, headers=key)
    assert replay.json()["id"] == first.json()["id"]

    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert retention.prune().idempotency_keys == 1
    # The stored reply (the person's name) is gone, and the key makes a new record.
    assert not IdempotencyRecord.objects.exists()
    again = api.post("/api/people", body, headers=key)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert Party.objects.filter(family_name="Empotent").count() == 2


def _task(status: str, finished_days_ago: float | None):
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    return DBTaskResult.objects.create(
        status=status,
        finished_at=None if finished_days_ago is None else now - timedelta(days=finished_days_ago),
        args_kwargs={"args": [], "kwargs": {}},
        task_path="kith.people.identity.tasks.train_identity_task",
        backend_name="default",
        run_after=now,
    )


def test_finished_tasks_go_after_their_days_failed_ones_later(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.KITH_TASK_RESULTS_KEEP_DAYS = 7
    done_old = _task("SUCCESSFUL", 8)
    done_young = _task("SUCCESSFUL", 6)
    failed_recent = _task("FAILED", 20)
    failed_old = _task("FAILED", 29)
    waiting = _task("READY", None)

    assert retention.prune().task_results == 2

    from django_tasks_db.models import DBTaskResult

    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert left == {done_young.pk, failed_recent.pk, waiting.pk}
    assert done_old.pk not in left and failed_old.pk not in left


def test_tasks_are_left_alone_when_they_run_in_process(settings):
    # The test settings run tasks at once: the task table is not Kith's queue then.
    _task("SUCCESSFUL", 100)
    assert retention.prune().task_results == 0


def test_the_worker_runs_it_every_minute():
    job = worker.periodic_jobs()["core.retention"]
    assert job.every_seconds == 60 and job.bulk  # beside imports, not before mentions


def test_kith_prune_deletes_everything_past_its_time(quiet_outbox, settings, monkeypatch):
    settings.KITH_OUTBOX_KEEP_DAYS = 7
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches, all in one run
    for _ in range(5):
        _event(OutboxEvent.Status.DONE, timedelta(days=10), subscribers=2)
    young = _event(OutboxEvent.Status.DONE, timedelta(days=1))

    out = StringIO()
    call_command("prune", "--json", stdout=out)

    assert json.loads(out.getvalue()) == {
        "events": 5,
        "deliveries": 10,
        "idempotency_keys": 0,
        "task_results": 0,
        "sessions": 0,
    }
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [young.pk]
    text = StringIO()
    call_command("prune", stdout=text)
    assert "Deleted 0 delivered events older than 7 days" in text.getvalue()


def test_the_kith_command_offers_prune(quiet_outbox, capsys):
    from kith.cli import main

    main(["--help"])
    assert "prune" in capsys.readouterr().out
    main(["prune", "--json"])
    assert json.loads(capsys.readouterr().out)["events"] == 0


def test_expired_sessions_go_and_live_ones_stay(alice, bob):
    from django.contrib.sessions.models import Session

    from tests.conftest import login

    stale, live = login(alice), login(bob)
    Session.objects.filter(session_key=stale.session.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    assert retention.prune().sessions == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session.session_key]
    assert live.get("/").status_code == 200  # still signed in
