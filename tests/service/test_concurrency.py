"""Cases under concurrency: real threads on PostgreSQL change one case's status and run the
breach clock at once; each transition and each breach is recorded once, and the SLA
clock stays consistent (``kith check``)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from kith.core.models import OutboxEvent
from kith.service import consistency, services
from kith.service.models import Case, SlaBreach, StatusChange

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


def _at_once(n: int, work: Callable[[Case], object], case_pk: int) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            case = Case.objects.get(pk=case_pk)  # each request's own, soon stale, copy
            barrier.wait(timeout=60)
            work(case)
        except BaseException as exc:
            barrier.abort()
            errors.append(exc)
        finally:
            connection.close()

    connection.close()  # the pool's connections go to the threads
    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_pauses_record_one_transition(new_case, alice):
    case = new_case()
    errors = _at_once(
        12,
        lambda c: services.change_status(actor=alice, case=c, status="pending_customer"),
        case.pk,
    )
    assert errors == []
    assert StatusChange.objects.filter(case=case, to_status="pending_customer").count() == 1
    assert OutboxEvent.objects.filter(name="case.status_changed", object_id=case.pk).count() == 1
    assert Case.objects.get(pk=case.pk).paused_at is not None
    assert consistency.sla_clock_drift() == []


def test_concurrent_breach_clocks_flag_each_target_once(new_case):
    case = new_case()
    late = case.resolution_due_at + dt.timedelta(hours=1)
    errors = _at_once(8, lambda c: services.check_breaches(now=late, notify=False), case.pk)
    assert errors == []
    assert sorted(SlaBreach.objects.filter(case=case).values_list("kind", flat=True)) == [
        "first_response",
        "resolution",
    ]
    assert OutboxEvent.objects.filter(name="case.sla_breached", object_id=case.pk).count() == 2
    assert consistency.sla_clock_drift() == []
