"""Cases under concurrency: real threads on PostgreSQL change one case's status and run the
breach clock at once; each transition and each breach is recorded once, and the SLA
clock stays consistent (``kith check``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from kith.core.models import OutboxEvent
from kith.service import consistency, services
from kith.service.models import Case, SlaBreach, StatusChange
from tests.concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only", "restore_migration_seed"),
]


def _at_once(n: int, work: Callable[[Case], object], case_pk: int) -> list[BaseException]:
    """Run ``work(case)`` in ``n`` threads released together, each with its own (soon
    stale) copy of the case, as concurrent requests hold."""
    _, errors = run_together(work, range(n), prepare=lambda i: Case.objects.get(pk=case_pk))
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
