"""Forecast figures per period and owner, explicit currency conversion, conversion rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kith.sales import queries, services
from kith.sales.models import StageChange

Q1 = dt.date(2026, 2, 10)
Q2 = dt.date(2026, 5, 20)


@pytest.fixture
def book(make_deal, stages, alice, bob, settings):
    settings.KITH_BASE_CURRENCY = "EUR"
    d = {}
    d["a"] = make_deal(title="A", amount="1000", expected_close_date=Q1)  # Lead 10%
    d["b"] = make_deal(
        title="B", amount="2000", expected_close_date=Q1, owner=bob, forecast_category="commit"
    )
    d["c"] = make_deal(
        title="C", amount="400", expected_close_date=Q2, forecast_category="best_case"
    )
    d["won"] = make_deal(title="Won", amount="3000", expected_close_date=Q1, owner=bob)
    services.move_deal(actor=alice, deal=d["won"], stage=stages["Won"])
    d["lost"] = make_deal(title="Lost", amount="999", expected_close_date=Q1)
    services.move_deal(actor=alice, deal=d["lost"], stage=stages["Lost"], lost_reason="x")
    d["omit"] = make_deal(
        title="Omit", amount="777", expected_close_date=Q1, forecast_category="omitted"
    )
    # Closed deals count on the day they closed: pin it into Q1 for a stable test.
    for key in ("won", "lost"):
        d[key].closed_on = Q1
        d[key].refresh_derived()
        d[key].save()
    # Edited behind the services' back: recompute the forecast's running totals.
    services.rebuild_forecast_cells()
    return d


def _period(fc, key):
    return next(p for p in fc.periods if p.key == key)


def test_forecast_by_quarter_and_owner(book, alice):
    fc = queries.forecast(
        alice, period="quarter", group="owner", start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30)
    )
    assert [p.key for p in fc.periods] == ["2026-Q1", "2026-Q2"]
    q1 = _period(fc, "2026-Q1").figures
    assert q1.closed_won == Decimal("3000.00")
    assert q1.commit == Decimal("2000.00")
    assert q1.pipeline == Decimal("1000.00")
    # 1000 × 10% + 2000 × 10% (both in Lead); won/lost/omitted excluded.
    assert q1.weighted_pipeline == Decimal("300.00")
    q2 = _period(fc, "2026-Q2").figures
    assert q2.best_case == Decimal("400.00") and q2.weighted_pipeline == Decimal("40.00")
    groups = {g.key: g.figures for g in _period(fc, "2026-Q1").groups}
    assert groups["bob"].closed_won == Decimal("3000.00")
    assert groups["bob"].commit == Decimal("2000.00")
    assert groups["alice"].pipeline == Decimal("1000.00")
    assert fc.totals.closed_won == Decimal("3000.00")


def test_forecast_by_month(book, alice):
    fc = queries.forecast(
        alice, period="month", group="none", start=dt.date(2026, 2, 1), end=dt.date(2026, 5, 31)
    )
    assert [p.key for p in fc.periods] == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert _period(fc, "2026-03").figures.deals == 0
    assert _period(fc, "2026-05").figures.best_case == Decimal("400.00")


def test_moving_a_deal_changes_the_forecast(book, alice, stages):
    start, end = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    before = queries.forecast(alice, start=start, end=end, group="none").totals
    services.move_deal(actor=alice, deal=book["a"], stage=stages["Negotiation"])
    after = queries.forecast(alice, start=start, end=end, group="none").totals
    assert after.weighted_pipeline - before.weighted_pipeline == Decimal("650.00")


def test_other_currencies_are_converted_or_refused(book, make_deal, alice):
    make_deal(title="Dollars", amount="1000", currency="USD", expected_close_date=Q1)
    start, end = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    with pytest.raises(queries.MissingExchangeRate) as exc:
        queries.forecast(alice, start=start, end=end, as_of=dt.date(2026, 3, 1))
    assert exc.value.currencies == ["USD"]
    assert "USD" in exc.value.message
    services.set_exchange_rate(actor=alice, currency="USD", rate="0.5", valid_from="2026-01-01")
    services.set_exchange_rate(actor=alice, currency="USD", rate="0.9", valid_from="2026-06-01")
    fc = queries.forecast(alice, start=start, end=end, group="none", as_of=dt.date(2026, 3, 1))
    assert fc.currency == "EUR" and fc.rates == {"USD": Decimal("0.5")}
    assert fc.totals.pipeline == Decimal("1500.00")  # 1000 EUR + 1000 USD × 0.5
    later = queries.forecast(alice, start=start, end=end, group="none", as_of=dt.date(2026, 7, 1))
    assert later.totals.pipeline == Decimal("1900.00")
    only_usd = queries.forecast(alice, start=start, end=end, group="none", currency="USD")
    assert only_usd.currency == "USD" and not only_usd.converted
    assert only_usd.totals.pipeline == Decimal("1000.00") and only_usd.totals.commit == 0


def test_forecast_api(api_as, book, alice, make_deal):
    api = api_as(alice)
    r = api.get(
        "/api/forecast",
        period="quarter",
        group="owner",
        **{"from": "2026-01-01", "to": "2026-06-30"},
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["currency"] == "EUR"
    q1 = body["periods"][0]
    assert q1["key"] == "2026-Q1" and q1["closed_won"] == "3000.00"
    assert {g["key"] for g in q1["groups"]} == {"alice", "bob"}
    assert api.get("/api/forecast", period="week").status_code == 422
    assert api.get("/api/forecast", **{"from": "2026-05-01", "to": "2026-01-01"}).status_code == 422
    r = api.get("/api/forecast", **{"from": "2026-01-01", "to": "9999-12-31"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
    assert api.get("/api/conversion", **{"from": "0001-01-01"}).status_code == 422
    make_deal(title="Yen", amount="1", currency="JPY", expected_close_date=Q1)
    r = api.get("/api/forecast", **{"from": "2026-01-01", "to": "2026-06-30"})
    assert r.status_code == 422 and r.json()["code"] == "missing_exchange_rate"
    assert r.json()["errors"][0]["field"] == "currency"


def test_conversion_and_time_in_stage(make_deal, stages, alice, pipeline):
    now = timezone.now()
    deals = [make_deal(title=f"D{i}") for i in range(4)]
    for d in deals:
        StageChange.objects.filter(deal=d).update(changed_at=now - dt.timedelta(days=10))
        d.stage_entered_at = now - dt.timedelta(days=10)
        d.save()
    # Two go on to Qualified after 2 and 4 days; one of those is won; one is lost from Lead.
    services.move_deal(
        actor=alice, deal=deals[0], stage=stages["Qualified"], at=now - dt.timedelta(days=8)
    )
    services.move_deal(
        actor=alice, deal=deals[1], stage=stages["Qualified"], at=now - dt.timedelta(days=6)
    )
    deals[0].refresh_from_db()
    services.move_deal(actor=alice, deal=deals[0], stage=stages["Won"], at=now)
    services.move_deal(actor=alice, deal=deals[2], stage=stages["Lost"], lost_reason="No", at=now)
    stats = {
        s.stage.name: s
        for s in queries.conversion(
            alice, pipeline=pipeline, start=(now - dt.timedelta(days=30)).date(), end=now.date()
        )
    }
    lead = stats["Lead"]
    assert lead.entered == 4 and lead.advanced == 2 and lead.won == 1
    assert lead.conversion == 0.5 and lead.win_rate == 0.25
    # Left Lead after 2, 4 and 10 days.
    assert lead.exits == 3
    assert lead.average_seconds == pytest.approx((2 + 4 + 10) / 3 * 86400, rel=1e-3)
    assert stats["Qualified"].entered == 2 and stats["Qualified"].won == 1
    assert stats["Won"].entered == 1 and stats["Won"].conversion is None


def test_conversion_api(api_as, make_deal, alice, pipeline):
    make_deal()
    r = api_as(alice).get("/api/conversion", pipeline=str(pipeline.public_id))
    assert r.status_code == 200
    lead = r.json()["stages"][0]
    assert lead["stage"]["name"] == "Lead" and lead["entered"] == 1
    assert api_as(alice).get("/api/conversion", pipeline="x").status_code == 422


def test_running_totals_match_a_rebuild_after_every_kind_of_change(book, alice, bob, stages):
    """The cells the services maintain equal the cells recomputed from the deals."""
    from kith.sales.models import ForecastCell

    def snapshot():
        return sorted(
            (
                c.forecast_month,
                c.owner_key,
                c.team_key,
                c.visibility,
                c.currency,
                c.forecast_category,
                c.is_won,
                c.deals,
                c.amount_cents,
                c.weighted_cents,
            )
            for c in ForecastCell.objects.all()
        )

    product = services.create_product(
        actor=alice, data={"name": "Seat", "sku": "S1", "unit_price": "10"}
    )
    services.update_deal(
        actor=alice,
        deal=book["a"],
        data={"amount": "1500", "owner": bob, "expected_close_date": Q2},
    )
    services.move_deal(actor=alice, deal=book["b"], stage=stages["Won"])
    services.move_deal(actor=alice, deal=book["won"], stage=stages["Proposal"], probability=35)
    services.update_deal(actor=alice, deal=book["c"], data={"forecast_category": "omitted"})
    services.update_deal(actor=alice, deal=book["omit"], data={"forecast_category": "commit"})
    line = services.add_line(actor=alice, deal=book["omit"], product=product, quantity="3")
    services.update_line(actor=alice, line=line, data={"quantity": "7"})
    services.move_deal(actor=alice, deal=book["lost"], stage=stages["Lead"])
    services.delete_deal(actor=alice, deal=book["a"])
    incremental = snapshot()
    services.rebuild_forecast_cells()
    assert incremental == snapshot()
    assert ForecastCell.objects.filter(deals__lte=0).count() == 0


def test_rebuild_command(book, alice):
    from io import StringIO

    from django.core.management import call_command

    from kith.sales.models import ForecastCell

    ForecastCell.objects.all().delete()
    out = StringIO()
    call_command("rebuild_forecast", stdout=out)
    assert "cells" in out.getvalue() and ForecastCell.objects.exists()
    fc = queries.forecast(alice, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31))
    assert fc.totals.closed_won == Decimal("3000.00")
