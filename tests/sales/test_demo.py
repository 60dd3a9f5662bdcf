"""The sales part of ``kith demo``: pipelines with deals in every stage over two years."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db.models import Count

from kith.accounts.models import User
from kith.demo import data
from kith.interactions.models import Interaction
from kith.sales import queries
from kith.sales.models import Deal, DealContact, DealLine, Pipeline, Product, StageChange


@pytest.fixture
def demo(db):
    return data.load(people=60, organizations=8, interactions=300)


def test_demo_deals_in_every_stage_with_history_forecast_and_wipe(demo):
    assert any("deals in 2 pipelines" in line for line in demo.extensions)
    pipelines = list(Pipeline.objects.all())
    assert len(pipelines) == 2
    for pipeline in pipelines:
        counts = dict(
            Deal.objects.filter(pipeline=pipeline).values_list("stage_id").annotate(n=Count("id"))
        )
        assert all(counts.get(s.pk, 0) >= 1 for s in pipeline.stages.all()), pipeline.name
    start = dt.datetime.combine(data.ANCHOR - dt.timedelta(days=731), dt.time(), dt.UTC)
    end = dt.datetime.combine(data.ANCHOR + dt.timedelta(days=1), dt.time(), dt.UTC)
    for deal in Deal.objects.select_related("stage"):
        history = list(StageChange.objects.filter(deal=deal).order_by("changed_at", "id"))
        assert history[0].from_stage_id is None
        assert history[-1].to_stage_id == deal.stage_id
        assert all(start <= h.changed_at <= end for h in history)
        assert all(a.to_stage_id == b.from_stage_id for a, b in itertools.pairwise(history))
        if deal.stage.is_lost:
            assert deal.lost_reason
        assert deal.forecast_month is not None
    assert Deal.objects.filter(stage__is_won=True).count() >= 5
    assert Deal.objects.filter(stage__is_lost=True).count() >= 5
    assert DealLine.objects.exists() and DealContact.objects.exists() and Product.objects.exists()
    # Amounts of deals with lines are their lines' sum.
    for deal in Deal.objects.filter(lines__isnull=False).distinct()[:20]:
        assert deal.amount == sum(line.total for line in deal.lines.all())
    assert Interaction.objects.filter(kind="deal_won").exists()

    # The forecast converts the demo's dollars and pounds with the demo's rates.
    alice = User.objects.get(username="alice")
    fc = queries.forecast(
        alice,
        period="quarter",
        start=data.ANCHOR - dt.timedelta(days=365),
        end=data.ANCHOR + dt.timedelta(days=180),
        as_of=data.ANCHOR,
    )
    assert fc.totals.closed_won > 0 and fc.totals.weighted_pipeline > 0
    assert set(fc.rates) <= {"USD", "GBP"}

    # Wiping the demo removes what the sales part wrote.
    data.wipe()
    assert not Deal.objects.exists()
    assert not Product.objects.exists()
    assert [p.name for p in Pipeline.objects.all()] == ["Sales"]
    assert not Interaction.objects.filter(source="demo-sales").exists()
