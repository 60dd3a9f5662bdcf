"""The sales web UI: pages render for staff, forms validate inline, moves go through services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from kith.sales import services
from kith.sales.models import Deal, StageChange
from tests.conftest import login


@pytest.fixture
def web():
    return login


def test_pages_render(web, alice, make_deal, stages, ana):
    deal = make_deal(amount="1200", expected_close_date=dt.date.today(), person=ana)
    services.add_contact(actor=alice, deal=deal, person=ana, role="Champion")
    c = web(alice)
    board = c.get(reverse("sales:board"))
    assert board.status_code == 200
    body = board.content.decode()
    assert "Acme renewal" in body and "1,200.00 EUR" in body and 'draggable="true"' in body
    assert c.get(reverse("sales:deals")).status_code == 200
    detail = c.get(reverse("sales:deal", args=[deal.public_id])).content.decode()
    assert "Champion" in detail and "Stage history" in detail and "(created)" in detail
    fc = c.get(reverse("sales:forecast"))
    assert fc.status_code == 200 and b"<svg" in fc.content and b"forecast-table" in fc.content
    assert c.get(reverse("sales:conversion")).status_code == 200
    assert c.get(reverse("sales:products")).status_code == 200
    assert c.get(reverse("sales:deal_new")).status_code == 200
    assert c.get(reverse("sales:deal_edit", args=[deal.public_id])).status_code == 200


def test_list_filtered_by_party(web, alice, make_deal, ana):
    make_deal(title="With Ana", person=ana)
    make_deal(title="Without")
    body = web(alice).get(reverse("sales:deals"), {"party": str(ana.public_id)}).content.decode()
    assert "With Ana" in body and "Without" not in body
    bad = web(alice).get(reverse("sales:deals"), {"close_from": "nope"})
    assert bad.status_code == 422


def test_move_from_the_board_with_htmx(web, alice, make_deal, stages, pipeline):
    deal = make_deal()
    c = web(alice)
    url = reverse("sales:deal_move", args=[deal.public_id])
    r = c.post(
        url,
        {"stage": str(stages["Proposal"].public_id)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    assert r.status_code == 200 and 'id="board"' in r.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]
    # Lost without a reason: the board comes back with the error next to the card.
    r = c.post(
        url,
        {"stage": str(stages["Lost"].public_id)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    assert r.status_code == 422 and "Say why the deal was lost." in r.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"]
    # Without JavaScript: a plain post redirects back.
    r = c.post(url, {"stage": str(stages["Won"].public_id), "next": reverse("sales:board")})
    assert r.status_code == 302 and r["Location"] == reverse("sales:board")
    assert StageChange.objects.filter(deal=deal).count() == 3


def test_the_board_sends_one_move_form_template_not_a_form_per_card(web, alice, make_deal, stages):
    deals = [make_deal(title=f"Deal {i}") for i in range(12)]
    c = web(alice)
    body = c.get(reverse("sales:board")).content.decode()
    assert body.count('id="deal-move-template"') == 1
    assert body.count('name="lost_reason"') == 1  # the template's, no card's
    assert body.count('class="deal-move" data-lazy') == len(deals)
    # Without JavaScript, each card's Move links to its deal page, which has the form.
    assert reverse("sales:deal", args=[deals[0].public_id]) in body
    detail = c.get(reverse("sales:deal", args=[deals[0].public_id])).content.decode()
    assert reverse("sales:deal_move", args=[deals[0].public_id]) in detail
    # A refused move shows that card's whole form, open, with the error.
    r = c.post(
        reverse("sales:deal_move", args=[deals[0].public_id]),
        {"stage": str(stages["Lost"].public_id)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    html = r.content.decode()
    assert r.status_code == 422
    assert f'id="move-{deals[0].public_id}"' in html and "Say why the deal was lost." in html
    assert f'id="move-{deals[1].public_id}"' not in html


def test_create_deal_form_validates_inline(web, alice, acme, stages):
    c = web(alice)
    url = reverse("sales:deal_new")
    r = c.post(
        url,
        {"title": "", "currency": "EUR", "visibility": "everyone", "amount": "12.345"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="deal-form",
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert body.startswith('<form id="deal-form"') and "This field is required." in body
    r = c.post(
        url,
        {
            "title": "Big one",
            "organization": str(acme.public_id),
            "stage": str(stages["Qualified"].public_id),
            "currency": "EUR",
            "visibility": "everyone",
            "amount": "12.345",
        },
    )
    assert r.status_code == 422 and "At most two decimal places." in r.content.decode()
    r = c.post(
        url,
        {
            "title": "Big one",
            "organization": str(acme.public_id),
            "stage": str(stages["Qualified"].public_id),
            "currency": "EUR",
            "visibility": "everyone",
            "amount": "5000",
            "owner": "alice",
            "forecast_category": "commit",
        },
    )
    deal = Deal.objects.get(title="Big one")
    assert r.status_code == 302 and r["Location"] == reverse("sales:deal", args=[deal.public_id])
    assert deal.stage == stages["Qualified"] and deal.forecast_category == "commit"


def test_lines_and_people_forms(web, alice, make_deal, ana):
    deal = make_deal()
    product = services.create_product(
        actor=alice, data={"name": "Seat", "sku": "SEAT", "unit_price": "50"}
    )
    c = web(alice)
    r = c.post(
        reverse("sales:line_add", args=[deal.public_id]),
        {"product": str(product.public_id), "quantity": "2", "discount": "0"},
    )
    assert r.status_code == 302
    deal.refresh_from_db()
    assert str(deal.amount) == "100.00"
    r = c.post(
        reverse("sales:line_add", args=[deal.public_id]),
        {"product": "", "quantity": "1", "description": ""},
    )
    assert r.status_code == 422
    r = c.post(
        reverse("sales:contact_add", args=[deal.public_id]),
        {"person": str(ana.public_id), "role": "Buyer"},
    )
    assert r.status_code == 302 and deal.contacts.get().role == "Buyer"


def test_viewer_and_portal_in_the_ui(web, vic, carol, make_deal, stages):
    deal = make_deal()
    v = web(vic)
    assert v.get(reverse("sales:board")).status_code == 200
    assert 'draggable="true"' not in v.get(reverse("sales:board")).content.decode()
    r = v.post(
        reverse("sales:deal_move", args=[deal.public_id]),
        {"stage": str(stages["Won"].public_id)},
    )
    assert r.status_code == 403
    assert v.get(reverse("sales:deal_new")).status_code == 403
    p = web(carol)
    # Customers are sent to the portal, whatever the staff URL (nothing leaks).
    for url in (
        reverse("sales:board"),
        reverse("sales:deal", args=[deal.public_id]),
        reverse("sales:forecast"),
    ):
        response = p.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/", url


def test_forecast_page_reports_missing_rate(web, alice, make_deal):
    make_deal(title="Dollars", amount="10", currency="USD", expected_close_date=dt.date.today())
    r = web(alice).get(reverse("sales:forecast"))
    assert r.status_code == 422
    assert "No exchange rate from USD" in r.content.decode()
    assert "Show only USD" in r.content.decode()


def test_deals_panel_on_the_organisation_page(web, alice, vic, make_deal, acme, dan):
    make_deal(title="Shown deal")
    make_deal(title="Hidden deal", owner=dan, visibility="private")
    body = web(alice).get(reverse("people:organization", args=[acme.public_id])).content.decode()
    assert 'id="deals-panel"' in body and "Shown deal" in body and "Hidden deal" in body
    body = web(vic).get(reverse("people:organization", args=[acme.public_id])).content.decode()
    assert "Shown deal" in body and "Hidden deal" not in body and "New deal" not in body


def test_managers_record_rates_and_products_in_the_ui(web, mia, bob):
    from kith.sales.models import ExchangeRate, Product

    c = web(mia)
    url = reverse("sales:products")
    r = c.post(url, {"form": "rate", "currency": "USD", "rate": "0.91", "valid_from": "2026-01-01"})
    assert r.status_code == 302 and ExchangeRate.objects.get().rate == Decimal("0.91")
    r = c.post(url, {"form": "rate", "currency": "EUR", "rate": "-1", "valid_from": "2026-01-01"})
    assert r.status_code == 422 and "base currency" in r.content.decode()
    r = c.post(url, {"name": "Seat", "sku": "SEAT", "unit_price": "10", "currency": "EUR"})
    assert r.status_code == 302 and Product.objects.filter(sku="SEAT").exists()
    assert "0.91" in c.get(url).content.decode()
    # An agent sees the lists but cannot add to them.
    agent = web(bob)
    assert agent.get(url).status_code == 200
    r = agent.post(
        url, {"form": "rate", "currency": "GBP", "rate": "1.1", "valid_from": "2026-01-01"}
    )
    assert r.status_code == 403


def test_board_collapses_won_and_lost_to_totals_until_shown(web, alice, make_deal, stages):
    make_deal(title="Open one")
    won = make_deal(title="Won long ago", amount="500")
    services.move_deal(actor=alice, deal=won, stage=stages["Won"])
    lost = make_deal(title="Lost long ago", amount="700")
    services.move_deal(actor=alice, deal=lost, stage=stages["Lost"], lost_reason="Price")
    c = web(alice)
    body = c.get(reverse("sales:board")).content.decode()
    assert "Open one" in body
    # Closed deals are counted and totalled, not drawn.
    assert "Won long ago" not in body and "Lost long ago" not in body
    assert "Show 1 won deal" in body and "Show 1 lost deal" in body
    assert "500.00 EUR" in body and "700.00 EUR" in body
    shown = c.get(reverse("sales:board"), {"closed": "show"}).content.decode()
    assert "Won long ago" in shown and "Lost long ago" in shown and "Show 1 won" not in shown


def test_a_deal_moved_into_a_collapsed_column_stays_in_sight_with_a_confirmation(
    web, alice, make_deal, stages
):
    deal = make_deal(title="Closing now")
    other = make_deal(title="Won before")
    services.move_deal(actor=alice, deal=other, stage=stages["Won"])
    r = web(alice).post(
        reverse("sales:deal_move", args=[deal.public_id]),
        {"stage": str(stages["Won"].public_id)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert "Moved “Closing now” to Won." in body
    assert "Closing now" in body.split('data-testid="board-status"')[1]
    assert "Won before" not in body  # the rest of the column stays collapsed
    assert f'data-moved="{deal.public_id}"' in body


def test_board_flags_overdue_open_deals_and_totals_in_the_base_currency(
    web, alice, make_deal, stages
):
    from kith.sales.models import ExchangeRate

    today = dt.date.today()
    make_deal(title="Late", amount="100", expected_close_date=today - dt.timedelta(days=3))
    make_deal(title="Soon", amount="100", currency="USD", expected_close_date=today)
    body = web(alice).get(reverse("sales:board")).content.decode()
    late = body.split("Late</a>")[1].split("</li>")[0]
    soon = body.split("Soon</a>")[1].split("</li>")[0]
    assert 'data-testid="overdue"' in late and "overdue" not in soon
    # USD without a rate: the base total is refused honestly, not guessed.
    assert "no EUR rate for every currency" in body
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.5"), valid_from=today)
    body = web(alice).get(reverse("sales:board")).content.decode()
    assert "≈ 150.00 EUR" in body
