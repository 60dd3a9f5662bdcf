"""The home dashboard: a member of staff's deals, cases, day and mentions on one page,
with charts drawn on the server — and nothing they could not open themselves."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kith.sales import services as sales_services
from kith.service import services as service_services
from kith.web import dashboard
from kith.work import services as work_services
from kith.work.models import ActivityType
from tests.conftest import client_for, make_org, make_person


def test_staff_land_on_their_dashboard(alice, bob, dan):
    acme = make_org(alice, "Acme Ltd")
    ana = make_person(alice, given="Ana", family="Lima")
    today = timezone.localdate()
    sales_services.create_deal(
        actor=bob,
        data={
            "title": "Bob's late deal",
            "organization": acme,
            "owner": bob,
            "amount": "1200",
            "expected_close_date": today - dt.timedelta(days=2),
        },
    )
    sales_services.create_deal(
        actor=dan,
        data={
            "title": "Dan's private deal",
            "organization": acme,
            "owner": dan,
            "visibility": "private",
        },
    )
    service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Printer on fire", requester=ana, assignee=bob),
    )
    work_services.create_activity(
        actor=bob,
        type=ActivityType.objects.get(slug="call"),
        summary="Call Ana back",
        record=ana,
        deadline=today - dt.timedelta(days=1),
    )
    board = dashboard.build(bob)
    assert board.deal_count == 1 and [d.title for d in board.deals] == ["Bob's late deal"]
    assert board.case_count == 1 and board.my_day.counts["overdue"] == 1
    assert [c.title for c in board.charts][:2] == [
        "Customer satisfaction per week",
        "SLA breaches per week",
    ]

    response = client_for(bob).get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Bob&#x27;s late deal" in body or "Bob's late deal" in body
    assert "Printer on fire" in body and "Call Ana back" in body
    assert "Dan&#x27;s private deal" not in body and "Dan's private deal" not in body
    assert (
        body.count("<svg") >= 3 and "<script" not in body.split("</header>")[1].split("<footer")[0]
    )
    # Another agent sees their own (empty) figures, not bob's.
    other = dashboard.build(dan)
    assert other.case_count == 0 and [d.title for d in other.deals] == ["Dan's private deal"]


def test_the_dashboard_survives_an_empty_database(alice):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    assert "No open deals." in response.content.decode()


def test_customers_still_go_to_the_portal(carol):
    response = client_for(carol).get("/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
