"""End to end in a real browser: move deals on the board (keyboard and drag) and see the forecast change."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.sales import services
from tests.conftest import PASSWORD, make_org, make_person

# Transactional, because the live server reads the data from another thread; the
# serialized rollback puts back the seeded pipeline and role vocabulary the flush removes.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sales_data():
    alice = account_services.create_user(
        actor=None,
        username="alice",
        password=PASSWORD,
        role=Role.ADMIN,
        first_name="Alice",
        last_name="Admin",
    )
    acme = make_org(alice, "Acme Ltd")
    ana = make_person(alice, given="Ana", family="Lima")
    today = dt.date.today()
    big = services.create_deal(
        actor=alice,
        data={
            "title": "Acme platform",
            "organization": acme,
            "person": ana,
            "amount": "10000",
            "currency": "EUR",
            "expected_close_date": today,
        },
    )
    small = services.create_deal(
        actor=alice,
        data={
            "title": "Acme training",
            "organization": acme,
            "amount": "2000",
            "currency": "EUR",
            "expected_close_date": today,
        },
    )
    return {"alice": alice, "big": big, "small": small, "ana": ana}


def log_in(page: Page, username: str = "alice") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def closed_won_total(page: Page) -> str:
    page.goto("/sales/forecast/?period=quarter&group=owner")
    return page.locator("#fc-total [data-figure='closed_won']").inner_text()


def test_move_deals_on_the_board_and_see_the_forecast_change(new_page, sales_data):
    page = new_page()
    log_in(page)
    assert closed_won_total(page) == "0.00"
    weighted_before = page.locator("#fc-total [data-figure='weighted_pipeline']").inner_text()
    assert weighted_before == "1,200.00"  # (10,000 + 2,000) × 10 % in Lead

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sales").click()
    expect(page.get_by_role("heading", name="Pipeline")).to_be_visible()
    board = page.locator("#board")
    lead = board.locator(".board-col", has=page.get_by_role("heading", name=re.compile("^Lead")))
    won = board.locator(".board-col", has=page.get_by_role("heading", name=re.compile("^Won")))
    expect(lead).to_contain_text("Acme platform")

    # Keyboard only: open the card's Move control, pick the stage, press Enter.
    card = board.locator(".deal-card", has_text="Acme platform")
    card.locator("summary", has_text="Move").focus()
    page.keyboard.press("Enter")
    select = card.get_by_label("Move “Acme platform” to")
    select.focus()
    select.select_option(label="Won")
    page.keyboard.press("Tab")  # to the lost reason box
    page.keyboard.press("Tab")  # to the Move button
    page.keyboard.press("Enter")
    expect(won).to_contain_text("Acme platform")
    expect(lead).not_to_contain_text("Acme platform")
    expect(won.locator("[data-testid=total]")).to_have_text("10,000.00 EUR")
    # A visible confirmation, and the keyboard user's focus stays on the moved card.
    expect(page.get_by_test_id("board-status")).to_have_text("Moved “Acme platform” to Won.")
    expect(won.get_by_role("link", name="Acme platform")).to_be_focused()

    # Drag and drop: the other card onto the Proposal column.
    proposal = board.locator(
        ".board-col", has=page.get_by_role("heading", name=re.compile("^Proposal"))
    )
    board.locator(".deal-card", has_text="Acme training").drag_to(proposal)
    expect(proposal).to_contain_text("Acme training")
    page.screenshot(path="/tmp/kith-sales-board.png", full_page=True)

    assert closed_won_total(page) == "10,000.00"
    # Training is now weighted at 50 %; the won deal left the pipeline.
    expect(page.locator("#fc-total [data-figure='weighted_pipeline']")).to_have_text("1,000.00")
    expect(page.locator("svg rect.s-closed_won")).to_have_count(1)
    page.screenshot(path="/tmp/kith-sales-forecast.png", full_page=True)

    # The win reached the timeline of the person on the deal.
    page.goto(f"/people/{sales_data['ana'].public_id}/")
    expect(page.locator("#timeline")).to_contain_text("Deal won: Acme platform")


def test_sales_pages_fit_a_phone(new_page, sales_data):
    page = new_page(width=375, height=740)
    log_in(page)
    for url in ("/sales/", "/sales/deals/", "/sales/forecast/", "/sales/conversion/"):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{url} scrolls sideways on a phone"
    page.goto(f"/sales/deals/{sales_data['big'].public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme platform")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path="/tmp/kith-sales-phone-deal.png", full_page=True)
