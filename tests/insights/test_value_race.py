"""Concurrent value recomputations on PostgreSQL: one run in flight, one set of figures.

Real threads, each with its own connection (``transaction=True``); SQLite serialises
writers, so these run on PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kith.core.errors import Conflict
from kith.insights import value
from kith.insights.models_value import PersonValue, ValueRun
from kith.interactions.models import Transaction
from kith.people.models import Party
from tests.concurrency import run_together

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


@pytest.fixture
def no_worker(settings):
    """Requests queue their run without running it (as with the database backend)."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }


def _customers(n: int = 30) -> list[Party]:
    people = []
    now = timezone.now()
    for i in range(n):
        p = Party.objects.create(
            kind=Party.Kind.PERSON, given_name=f"R{i}", family_name="Race", display_name=f"R{i}"
        )
        people.append(p)
        visits = 1 + i % 6
        Transaction.objects.bulk_create(
            [
                Transaction(
                    party=p,
                    kind="order",
                    amount=Decimal(20 + (i * 7 + k * 3) % 50),
                    currency="EUR",
                    occurred_at=now - dt.timedelta(days=400 - k * (30 + i % 20) - i),
                )
                for k in range(visits)
            ]
        )
    return people


def test_two_concurrent_requests_give_one_run_and_one_conflict(no_worker):
    results, errors = run_together(lambda i: value.request_value_run(actor=None), range(2))
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict)
    assert ValueRun.objects.count() == 1 and ValueRun.objects.get().in_flight is True


def test_two_workers_on_one_run_compute_it_once(no_worker):
    people = _customers()
    run = value.request_value_run(actor=None)
    _, errors = run_together(lambda i: value.run_value(run_id=run.pk), range(2))
    assert not errors, errors
    run.refresh_from_db()
    assert run.status == "done"
    rows = PersonValue.objects.filter(run=run)
    assert rows.count() == run.scored_count == len(people)
    assert rows.values("party").distinct().count() == len(people)


def test_runs_finishing_together_leave_one_set_of_figures(no_worker):
    people = _customers()
    # Two runs queued (as after a stale one was released), computed by two workers at once.
    first = ValueRun.objects.create(status="queued", in_flight=None)
    second = ValueRun.objects.create(status="queued", in_flight=None)
    _, errors = run_together(lambda i: value.run_value(run_id=(first, second)[i].pk), range(2))
    assert not errors, errors
    assert set(ValueRun.objects.values_list("status", flat=True)) == {"done"}
    # Each save replaced every other run's figures: whichever finished last is all there is.
    runs_with_rows = set(PersonValue.objects.values_list("run_id", flat=True))
    assert len(runs_with_rows) == 1
    assert PersonValue.objects.count() == len(people)
