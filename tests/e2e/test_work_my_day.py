"""End to end in a real browser: My day, complete an activity, see it on the person's timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.work import queries, services
from kith.work.models import ActivityType
from tests.conftest import PASSWORD, make_person

# Transactional, because the live server reads the data from another thread; the
# serialized rollback puts back the seeded vocabularies (roles, activity types).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def work():
    bob = account_services.create_user(
        actor=None, username="bob", password=PASSWORD, role=Role.AGENT, first_name="Bob"
    )
    ana = make_person(bob, given="Ana", family="Lima", email="ana@example.com")
    today = queries.today_for(bob)
    call = services.create_activity(
        actor=bob,
        type=ActivityType.objects.get(slug="call"),
        summary="Call Ana about the renewal",
        record=ana,
        deadline=today - dt.timedelta(days=1),
    )
    services.create_activity(
        actor=bob,
        type=ActivityType.objects.get(slug="todo"),
        summary="Prepare the quote",
        deadline=today + dt.timedelta(days=2),
    )
    return {"bob": bob, "ana": ana, "call": call}


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # staff land on their dashboard


def test_complete_from_my_day_lands_on_timeline(new_page, work):
    page = new_page()
    log_in(page, "bob")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My day").click()
    expect(page.get_by_role("heading", name="My day", level=1)).to_be_visible()
    overdue = page.locator(".work-section-overdue")
    expect(overdue).to_contain_text("Call Ana about the renewal")
    expect(page.locator(".work-section-upcoming")).to_contain_text("Prepare the quote")

    # Quick complete swaps just the row (htmx), without leaving the page.
    overdue.get_by_role("button", name="Mark “Call Ana about the renewal” done").click()
    row = page.locator(f"#activity-{work['call'].public_id}")
    expect(row).to_contain_text("logged on the timeline")
    expect(row.get_by_role("button")).to_have_count(0)
    assert page.url.endswith("/work/")

    page.goto(f"/people/{work['ana'].public_id}/")
    expect(page.locator("#timeline")).to_contain_text("Call: Call Ana about the renewal")
