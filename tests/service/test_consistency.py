"""``kith check`` on cases: a drifted SLA clock (paused while open, a wrong running due
time, breach flags that disagree with the breach rows) is reported and repaired."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from kith.core.models import AuditEntry
from kith.service import consistency, services
from kith.service.models import NO_DUE, Case, SlaBreach

pytestmark = pytest.mark.django_db


def _check(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(
            "check_consistency", "--only", "service.sla_clocks", *args, stdout=out, stderr=out
        )
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def test_cases_kept_by_the_services_are_consistent(new_case, alice):
    case = new_case()
    services.change_status(actor=alice, case=case, status="pending_customer")
    other = new_case(subject="Two")
    services.check_breaches(now=other.resolution_due_at + dt.timedelta(hours=1), notify=False)
    services.change_status(actor=alice, case=other, status="resolved")
    assert SlaBreach.objects.exists()
    assert consistency.sla_clock_drift() == []
    assert _check()[0] == 0


def test_drifted_clocks_are_reported_and_repaired(new_case):
    paused = new_case(subject="Paused while open")
    Case.objects.filter(pk=paused.pk).update(paused_at=paused.created_at)
    late = new_case(subject="Wrong due")
    Case.objects.filter(pk=late.pk).update(next_due_at=NO_DUE)
    flagged = new_case(subject="Flag without a row")
    Case.objects.filter(pk=flagged.pk).update(breached=True, first_response_breached=True)
    drift = {d.subject: d.detail for d in consistency.sla_clock_drift()}
    assert set(drift) == {f"case #{c.number}" for c in (paused, late, flagged)}
    assert "paused_at stored" in drift[f"case #{paused.number}"]
    assert "next_due_at stored 9999-12-31" in drift[f"case #{late.number}"]
    assert "first_response_breached stored True, expected False" in drift[f"case #{flagged.number}"]
    code, out = _check()
    assert code == 1 and "DRIFT  service.sla_clocks: 3 found" in out
    code, out = _check("--fix")
    assert code == 1 and "fixed  service.sla_clocks" in out
    assert consistency.sla_clock_drift() == []
    late.refresh_from_db()
    assert late.next_due_at == late.first_response_due_at
    flagged.refresh_from_db()
    assert not flagged.breached
    assert AuditEntry.objects.filter(action="case.sla_clock_repaired").count() == 3


def test_a_breach_row_without_its_flag_is_drift(new_case):
    case = new_case()
    SlaBreach.objects.create(
        case=case,
        kind="resolution",
        due_at=case.resolution_due_at,
        breached_at=case.resolution_due_at,
    )
    [drift] = consistency.sla_clock_drift()
    assert "resolution_breached stored False, expected True" in drift.detail
    _check("--fix")
    case.refresh_from_db()
    assert case.resolution_breached and case.breached
