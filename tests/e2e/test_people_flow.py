"""End to end in a real browser: find a person, give them a role, see it on the timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.interactions import services as interaction_services
from tests.conftest import PASSWORD, make_org, make_person

# Transactional, because the live server reads the data from another thread; the
# serialized rollback puts back the seeded role vocabulary that the flush removes.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    alice = account_services.create_user(
        actor=None,
        username="alice",
        password=PASSWORD,
        role=Role.ADMIN,
        first_name="Alice",
        last_name="Admin",
    )
    acme = make_org(alice, "Acme Ltd")
    make_org(alice, "Globex")
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com", title="CTO")
    bea = make_person(
        alice, given="Beatriz", family="Souza", email="bea@example.com", phone="+44 20 7946 0958"
    )
    make_person(alice, given="Cid", family="Moreno")
    interaction_services.log_interaction(
        actor=alice,
        party=bea,
        channel="email",
        summary="Asked about the annual plan",
        body="Could we get a quote for 40 seats?",
    )
    interaction_services.log_interaction(
        actor=alice, party=bea, channel="call", direction="out", summary="Walked through pricing"
    )
    return {"alice": alice, "acme": acme, "ana": ana, "bea": bea}


def log_in(page: Page, username: str = "alice") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # staff land on their dashboard


def test_find_person_add_role_and_see_it_on_the_timeline(new_page, people):
    page = new_page()
    log_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    results = page.locator("#results")
    expect(results).to_contain_text("Ana Lima")

    # "/" jumps to the search box; typing filters the list live (htmx, no reload).
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("beatriz")
    expect(results).not_to_contain_text("Ana Lima")
    expect(results).to_contain_text("Beatriz Souza")
    assert "q=beatriz" in page.url  # the search is in the address, so it can be shared

    results.get_by_role("link", name="Beatriz Souza", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Beatriz Souza")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Asked about the annual plan")

    roles = page.locator("#roles")
    roles.locator("summary", has_text="Add role").click()
    roles.get_by_label("Role").select_option("customer")
    roles.get_by_label("Of").select_option(label="Acme Ltd")
    roles.get_by_role("button", name="Add role").click()

    expect(roles.locator(".role-current")).to_contain_text("Customer")
    expect(roles.locator(".role-current")).to_contain_text("Acme Ltd")
    # The role change reaches the timeline through the event subscriber, and the
    # timeline section reloads itself when told so.
    expect(timeline).to_contain_text("Became Customer of Acme Ltd")

    # Channel chips filter the timeline in place.
    timeline.get_by_role("link", name="Call").click()
    expect(timeline).to_contain_text("Walked through pricing")
    expect(timeline).not_to_contain_text("Asked about the annual plan")
    timeline.get_by_role("link", name="All", exact=True).click()
    expect(timeline).to_contain_text("Asked about the annual plan")

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/kith-person.png", full_page=True)


def test_log_interaction_and_inline_validation(new_page, people):
    page = new_page()
    log_in(page)
    page.goto(f"/people/{people['ana'].public_id}/")
    timeline = page.locator("#timeline")
    timeline.locator("summary", has_text="Log interaction").click()
    timeline.get_by_label("Summary").fill("Demo of the new dashboard")
    timeline.get_by_role("button", name="Log it").click()
    expect(timeline).to_contain_text("Demo of the new dashboard")

    # Creating a person with an e-mail that is taken: the hint shows while typing,
    # the server refuses with the error next to the field, and nothing is created.
    page.goto("/people/new/")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Lima")
    page.get_by_label("E-mail").fill("ana@example.com")
    expect(page.locator("#live-email")).to_contain_text("Already belongs to Ana Lima")
    expect(page.locator("#duplicates")).to_contain_text("Ana Lima")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#id_email_error")).to_contain_text("Already belongs to Ana Lima")
    page.screenshot(path="/tmp/kith-new-person.png", full_page=True)


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_usable_on_a_phone(new_page, people):
    page = new_page(width=375, height=740)
    log_in(page)
    # The dashboard fits a phone; every navigation link is on screen, none off to the side.
    expect(page.get_by_role("heading", name="My day")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path="/tmp/kith-mobile-dashboard.png", full_page=True)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    for name in ("People", "Organisations", "Sales", "Feed", "My day", "Import"):
        link = nav.get_by_role("link", name=name)
        expect(link).to_be_in_viewport()
    page.goto("/people/")
    expect(page.locator("#q")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path="/tmp/kith-mobile-list.png", full_page=True)

    page.goto(f"/people/{people['bea'].public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Beatriz Souza")
    expect(page.locator("#timeline")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path="/tmp/kith-mobile-person.png", full_page=True)

    page.goto("/people/new/")
    assert no_horizontal_overflow(page)
