"""The service part of ``kith demo``: queues, a calendar, policies and cases with history."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.demo import data
from kith.interactions.models import Interaction
from kith.service import queries
from kith.service.models import (
    BusinessCalendar,
    Case,
    CaseMessage,
    CsatResponse,
    Queue,
    SlaBreach,
    SlaPolicy,
    StatusChange,
)


@pytest.fixture
def demo(db):
    return data.load(people=60, organizations=8, interactions=300)


def test_demo_cases_with_sla_history(demo):
    assert any("cases in 2 queues" in line for line in demo.extensions)
    assert Queue.objects.count() == 2 and BusinessCalendar.objects.count() == 1
    assert SlaPolicy.objects.count() == 4
    # The listening demo converts a few mentions into (social) cases of its own.
    cases = list(Case.objects.exclude(origin="social"))
    assert 140 <= len(cases) <= 160
    start = dt.datetime.combine(data.ANCHOR - dt.timedelta(days=731), dt.time(), dt.UTC)
    end = dt.datetime.combine(data.ANCHOR + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert all(start <= c.created_at <= end for c in cases)
    # spread over two years, every status present, some breached (open ones too)
    assert (max(c.created_at for c in cases) - min(c.created_at for c in cases)).days > 500
    assert {c.status for c in cases} >= {"closed", "resolved", "open"}
    assert SlaBreach.objects.filter(kind="first_response").exists()
    assert SlaBreach.objects.filter(kind="resolution").exists()
    assert Case.objects.filter(breached=True, status__in=["new", "open"]).exists()
    assert Case.objects.filter(breached=False).count() > len(cases) / 3
    for case in cases:
        history = list(StatusChange.objects.filter(case=case).order_by("occurred_at", "id"))
        assert history[0].to_status == "new" and history[-1].to_status == case.status
        assert case.messages.filter(kind="inbound").exists()
        assert case.breached == case.breaches.exists()
    assert CaseMessage.objects.filter(kind="note").exists()
    assert CsatResponse.objects.count() > 20
    # conversation on the timeline; notes internal
    assert Interaction.objects.filter(kind="case_reply", direction="out").exists()
    assert set(
        Interaction.objects.filter(kind="case_internal_note").values_list("direction", flat=True)
    ) == {"internal"}
    assert queries.csat_results(Case.objects.all(), by="queue")


def test_demo_is_deterministic_and_wipes(demo):
    """Only the service part is wiped and reloaded (the people stay), to keep this fast."""
    # The portal's demo opens carol's cases through the customer services; the service
    # demo's wipe removes them too but its reload does not make them again.
    from kith.portal import demo as portal_demo
    from kith.service import demo as service_demo

    # Cases the listening demo converted from mentions are its own, not reloaded here.
    first = list(
        Case.objects.exclude(origin="social")
        .order_by("number")
        .values_list("subject", "priority", "status")
    )
    service_demo.wipe()
    assert Case.objects.count() == 0 and Queue.objects.count() == 0
    assert not Interaction.objects.filter(source="demo-service").exists()
    assert SlaPolicy.objects.count() == 0 and BusinessCalendar.objects.count() == 0
    from kith.core.context import channel

    with channel("demo"):
        summary = service_demo.load(seed=data.DEFAULT_SEED, anchor=data.ANCHOR)
        portal_demo.load(seed=data.DEFAULT_SEED, anchor=data.ANCHOR)
    assert "cases in 2 queues" in summary
    again = list(
        Case.objects.exclude(origin="social")
        .order_by("number")
        .values_list("subject", "priority", "status")
    )
    assert again == first
