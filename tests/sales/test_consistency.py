"""``kith check`` on sales data: injected drift in forecast cells and stage histories is
reported with a non-zero exit, and ``--fix`` repairs what can be repaired."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from kith.core.models import AuditEntry
from kith.sales import consistency, services
from kith.sales.models import ForecastCell, StageChange

pytestmark = pytest.mark.django_db


def _check(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_consistency", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def book(make_deal, stages, alice):
    won = make_deal(title="Won one", amount=Decimal("300.00"), expected_close_date="2026-05-01")
    services.move_deal(actor=alice, deal=won, stage=stages["Won"])
    open_ = make_deal(title="Open one", amount=Decimal("80.50"), expected_close_date="2026-05-20")
    services.move_deal(actor=alice, deal=open_, stage=stages["Proposal"])
    return {"won": won, "open": open_}


def test_clean_data_has_no_drift(book):
    assert consistency.forecast_cell_drift() == []
    assert consistency.stage_history_drift() == []
    code, out = _check("--only", "sales.forecast_cells", "--only", "sales.stage_history")
    assert code == 0
    assert "No drift." in out


def test_a_drifted_forecast_cell_is_reported_and_rebuilt(book):
    cell = ForecastCell.objects.get(is_won=True)
    ForecastCell.objects.filter(pk=cell.pk).update(amount_cents=cell.amount_cents + 7, deals=2)
    drift = consistency.forecast_cell_drift()
    assert len(drift) == 1
    assert "[2, 30007" in drift[0].detail and "[1, 30000" in drift[0].detail
    code, out = _check("--only", "sales.forecast_cells")
    assert code == 1
    assert "DRIFT  sales.forecast_cells: 1 found" in out
    code, out = _check("--only", "sales.forecast_cells", "--fix")
    assert code == 1  # it still says that something had drifted
    assert "fixed  sales.forecast_cells" in out
    assert consistency.forecast_cell_drift() == []
    assert ForecastCell.objects.get(is_won=True).amount_cents == 30000


def test_a_missing_cell_and_a_stray_cell_are_both_drift(book):
    ForecastCell.objects.filter(is_won=True).delete()
    ForecastCell.objects.create(
        pipeline_id=book["open"].pipeline_id,
        visibility="everyone",
        currency="EUR",
        forecast_category="pipeline",
        forecast_month=209912,
        deals=1,
        amount_cents=100,
        weighted_cents=100,
    )
    assert len(consistency.forecast_cell_drift()) == 2
    _check("--fix")
    assert consistency.forecast_cell_drift() == []


def test_a_history_that_stops_short_is_completed(book, stages):
    deal = book["open"]
    StageChange.objects.filter(deal=deal, to_stage=stages["Proposal"]).delete()
    drift = consistency.stage_history_drift()
    assert [(d.subject, d.fixable) for d in drift] == [(f"deal {deal.public_id}", True)]
    assert "does not lead to the deal's stage" in drift[0].detail
    code, _ = _check("--only", "sales.stage_history", "--fix")
    assert code == 1
    assert consistency.stage_history_drift() == []
    last = StageChange.objects.filter(deal=deal).order_by("-id").first()
    assert (last.from_stage_id, last.to_stage_id) == (stages["Lead"].pk, stages["Proposal"].pk)
    assert AuditEntry.objects.filter(action="deal.history_repaired", object_id=deal.pk).exists()


def test_a_deal_without_history_gets_its_first_entry(book):
    deal = book["won"]
    StageChange.objects.filter(deal=deal).delete()
    assert [d.detail for d in consistency.stage_history_drift()] == ["no stage history"]
    _check("--fix")
    assert consistency.stage_history_drift() == []
    assert StageChange.objects.get(deal=deal).from_stage_id is None


def test_a_broken_link_is_reported_but_not_invented(book, stages):
    deal = book["won"]
    first = StageChange.objects.filter(deal=deal).order_by("id").last()
    StageChange.objects.filter(pk=first.pk).update(from_stage=stages["Negotiation"])
    drift = consistency.stage_history_drift()
    assert len(drift) == 1 and not drift[0].fixable
    assert "entry 2 starts where entry 1 did not end" in drift[0].detail
    code, out = _check("--only", "sales.stage_history", "--fix")
    assert code == 1
    assert "not repairable automatically" in out
    assert "1 need a person" in out
    assert len(consistency.stage_history_drift()) == 1  # left as it was


def test_time_running_backwards_is_drift(book):
    deal = book["open"]
    rows = list(StageChange.objects.filter(deal=deal).order_by("id"))
    StageChange.objects.filter(pk=rows[-1].pk).update(
        changed_at=rows[0].changed_at.replace(year=2000)
    )
    details = " ".join(d.detail for d in consistency.stage_history_drift())
    assert "entry 2 is dated before entry 1" in details


def test_stage_entered_at_out_of_step_is_repaired(book):
    deal = book["open"]
    type(deal).objects.filter(pk=deal.pk).update(
        stage_entered_at=deal.stage_entered_at.replace(year=2001)
    )
    assert [d.detail for d in consistency.stage_history_drift()] == [
        "stage_entered_at differs from the last entry's time"
    ]
    _check("--fix")
    deal.refresh_from_db()
    assert (
        deal.stage_entered_at == StageChange.objects.filter(deal=deal).order_by("-id")[0].changed_at
    )
