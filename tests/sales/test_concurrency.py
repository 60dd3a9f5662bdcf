"""Deals under concurrency: real threads on PostgreSQL move, edit and price one deal at once.

Each thread loads the deal itself before the barrier, as a request would, so every
one starts from the same (soon stale) state. Before the services locked the deal row,
20 concurrent moves to Won recorded the win several times, the stage history lost its
chain and the closed-won forecast cell drifted from its recomputation.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from kith.core.models import OutboxEvent
from kith.interactions.models import Interaction
from kith.sales import consistency, services
from kith.sales.models import Deal, ForecastCell, StageChange
from tests.concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only", "restore_migration_seed"),
]


def _at_once(n: int, work: Callable[[int, Deal], object], deal_pk: int) -> list[BaseException]:
    """Run ``work(i, deal)`` in ``n`` threads released together; each loads its own deal."""
    _, errors = run_together(
        lambda loaded: work(*loaded),
        range(n),
        prepare=lambda i: (i, Deal.objects.select_related("stage").get(pk=deal_pk)),
    )
    return errors


def _assert_chain(deal: Deal) -> None:
    history = list(StageChange.objects.filter(deal=deal).order_by("changed_at", "id"))
    assert history[0].from_stage_id is None
    for before, after in itertools.pairwise(history):
        assert after.from_stage_id == before.to_stage_id
        assert after.changed_at >= before.changed_at
    deal.refresh_from_db()
    assert history[-1].to_stage_id == deal.stage_id
    assert deal.stage_entered_at == history[-1].changed_at
    assert consistency.stage_history_drift() == []


def _cells() -> set[tuple]:
    return set(
        ForecastCell.objects.values_list(
            "pipeline_id",
            "owner_key",
            "team_key",
            "visibility",
            "currency",
            "forecast_category",
            "is_won",
            "forecast_month",
            "deals",
            "amount_cents",
            "weighted_cents",
        )
    )


def _assert_cells_match_recomputation() -> None:
    assert consistency.forecast_cell_drift() == []
    kept = _cells()
    services.rebuild_forecast_cells()
    assert _cells() == kept


def test_twenty_concurrent_wins_record_one_win(make_deal, stages, ana, alice):
    deal = make_deal(person=ana, amount=Decimal("1200.00"), expected_close_date="2026-06-30")
    errors = _at_once(
        20, lambda i, d: services.move_deal(actor=alice, deal=d, stage=stages["Won"]), deal.pk
    )
    assert errors == []
    deal.refresh_from_db()
    assert deal.stage_id == stages["Won"].pk
    assert StageChange.objects.filter(deal=deal, to_stage=stages["Won"]).count() == 1
    assert Interaction.objects.filter(party=ana, kind="deal_won").count() == 1
    assert OutboxEvent.objects.filter(name="deal.stage_changed", object_id=deal.pk).count() == 1
    won = ForecastCell.objects.get(is_won=True)
    assert (won.deals, won.amount_cents) == (1, 120000)
    _assert_chain(deal)
    _assert_cells_match_recomputation()


def test_concurrent_moves_keep_the_history_a_chain(make_deal, stages, alice):
    deal = make_deal(amount=Decimal("500.00"), expected_close_date="2026-07-15")
    order = ["Qualified", "Proposal", "Negotiation", "Won", "Lead", "Proposal"]

    def move(i: int, d: Deal) -> None:
        target = stages[order[i % len(order)]]
        services.move_deal(actor=alice, deal=d, stage=target, lost_reason="")

    errors = _at_once(18, move, deal.pk)
    assert errors == []
    assert StageChange.objects.filter(deal=deal).count() > 2  # the moves did interleave
    _assert_chain(deal)
    _assert_cells_match_recomputation()


def test_concurrent_edits_and_moves_keep_forecast_cells_exact(make_deal, stages, alice):
    deal = make_deal(amount=Decimal("100.00"), expected_close_date="2026-08-01")

    def work(i: int, d: Deal) -> None:
        if i % 3 == 0:
            services.update_deal(actor=alice, deal=d, data={"amount": Decimal(100 + i)})
        elif i % 3 == 1:
            services.move_deal(actor=alice, deal=d, stage=stages["Negotiation"], probability=i)
        else:
            services.move_deal(actor=alice, deal=d, stage=stages["Won"])

    errors = _at_once(15, work, deal.pk)
    assert errors == []
    _assert_chain(deal)
    _assert_cells_match_recomputation()


def test_concurrent_line_items_sum_into_the_amount(make_deal, alice):
    deal = make_deal(amount=Decimal("0"), expected_close_date="2026-09-01")

    def add(i: int, d: Deal) -> None:
        services.add_line(actor=alice, deal=d, description=f"Item {i}", unit_price="10.00")

    errors = _at_once(10, add, deal.pk)
    assert errors == []
    deal.refresh_from_db()
    assert deal.lines.count() == 10
    assert sorted(deal.lines.values_list("position", flat=True)) == list(range(1, 11))
    assert deal.amount == Decimal("100.00")
    _assert_cells_match_recomputation()


def test_deals_crossing_between_two_cells_do_not_deadlock(make_deal, stages, alice, monkeypatch):
    """A win takes from the open cell and adds to the won cell, a reopening the reverse;
    opposite moves at once must not lock the two cells in opposite orders (a deadlock,
    a 500 for one of them)."""
    a = make_deal(title="A", amount=Decimal("10.00"), expected_close_date="2026-10-01")
    b = make_deal(title="B", amount=Decimal("20.00"), expected_close_date="2026-10-01")
    services.move_deal(actor=alice, deal=b, stage=stages["Won"])  # A's cell, B's cell
    real_apply = services._apply

    def slow_apply(part, sign):  # widen the window between a move's two cell updates
        real_apply(part, sign)
        time.sleep(0.05)

    monkeypatch.setattr(services, "_apply", slow_apply)

    def run(i: int) -> None:
        pk = a.pk if i % 2 else b.pk
        for step in range(6):
            deal = Deal.objects.get(pk=pk)
            target = "Won" if (step + i) % 2 else "Negotiation"
            services.move_deal(actor=alice, deal=deal, stage=stages[target])

    _, errors = run_together(run, range(8))
    assert errors == []
    _assert_chain(a)
    _assert_chain(b)
    _assert_cells_match_recomputation()
