"""End to end in a real browser: Ctrl-K opens the command palette, which finds a deal
and a case from one box, walks the results with the arrow keys and opens one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.sales import services as sales_services
from kith.service import services as service_services
from tests.conftest import PASSWORD, make_org, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def records():
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    org = make_org(alice, "Quokka Logistics")
    ana = make_person(alice, given="Ana", family="Lima")
    deal = sales_services.create_deal(
        actor=alice, data={"title": "Quokka fleet renewal", "organization": org}
    )
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Quokka invoice missing", requester=ana),
    )
    return {"deal": deal, "case": case}


def log_in(page: Page) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_ctrl_k_finds_a_deal_and_a_case(new_page, records):
    page = new_page()
    log_in(page)
    page.goto("/work/")
    # The page has focus (a click on its heading) before the shortcut is typed.
    page.get_by_role("heading", level=1).first.click()
    page.keyboard.press("Control+k")
    palette = page.locator("#palette")
    expect(palette).to_be_visible(timeout=10_000)
    expect(page.locator("#palette-q")).to_be_focused()
    page.keyboard.type("quokka")
    results = page.get_by_test_id("palette-results")
    expect(results.get_by_role("region", name="Deals")).to_contain_text("Quokka fleet renewal")
    expect(results.get_by_role("region", name="Cases")).to_contain_text("Quokka invoice missing")
    expect(results.get_by_role("region", name="Organisations")).to_contain_text("Quokka Logistics")
    page.screenshot(path="/tmp/kith-palette.png")

    # Arrow keys walk the hits; Enter opens the one in focus.
    case_link = results.get_by_role("link", name=re.compile("Quokka invoice missing"))
    for _ in range(10):
        page.keyboard.press("ArrowDown")
        if case_link.evaluate("el => el === document.activeElement"):
            break
    expect(case_link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/service/cases/{records['case'].public_id}/"))
    # The URL changes before the new page has loaded its scripts: wait for the page.
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quokka invoice missing")

    # "/" opens it too where the page has no search box of its own; Escape closes it.
    page.keyboard.press("/")
    expect(palette).to_be_visible()
    page.keyboard.type("fleet")
    expect(results).to_contain_text("Quokka fleet renewal")
    page.keyboard.press("Enter")  # Enter in the box opens the first hit
    expect(page).to_have_url(re.compile(f"/sales/deals/{records['deal'].public_id}/"))


def test_the_palette_is_reachable_at_phone_width(new_page, records):
    page = new_page(width=375, height=740)
    log_in(page)
    page.goto("/people/")
    page.get_by_role("link", name="Search everything").click()
    expect(page.locator("#palette")).to_be_visible()
    page.keyboard.type("quokka")
    expect(page.get_by_test_id("palette-results")).to_contain_text("Quokka invoice missing")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
