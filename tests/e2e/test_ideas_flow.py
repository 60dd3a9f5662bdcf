"""End to end in a real browser: a customer votes for an idea in the portal; staff move
it to "planned" with a public note from the staff UI; the customer, on the portal's
home page, sees the notification arrive live (no reload), then the note on the idea."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.ideas import services as idea_services
from kith.ideas.models import IdeaVote
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _customer(username: str, given: str) -> User:
    email = f"{username}@example.org"
    person = make_person(None, given=given, family="Customer", email=email)
    return account_services.create_user(
        actor=None,
        username=email,  # customers log in with their address
        password=PASSWORD,
        email=email,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )


@pytest.fixture
def ideas(settings):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    category = idea_services.create_category(actor=alice, name="Reporting")
    ben = _customer("ben", "Ben")
    idea = idea_services.create_idea(
        actor=ben, title="Export reports to PDF", body="A **PDF** button.", category=category
    )
    return {"alice": alice, "ana": _customer("ana", "Ana"), "idea": idea}


def _csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text[:80]) if "Content Security Policy" in msg.text else None,
    )
    return found


def test_staff_plan_an_idea_and_the_voter_sees_it_live(new_page, ideas):
    a: Page = new_page(390, 844)  # the customer, on a phone
    violations = _csp_violations(a)
    a.goto("/portal/login/")
    a.get_by_label("E-mail").fill("ana@example.org")
    a.get_by_label("Password").fill(PASSWORD)
    a.get_by_role("button", name="Log in").click()
    expect(a).to_have_url(re.compile(r"/portal/$"))

    a.goto("/ideas/")
    a.get_by_role("link", name="Export reports to PDF").click()
    a.get_by_role("button", name="Vote for this idea").click()
    expect(a.get_by_role("button", name=re.compile("Voted"))).to_be_visible()
    expect(a.locator("[data-vote-count]")).to_have_text("1")
    assert IdeaVote.objects.filter(voter__username="ana@example.org").count() == 1

    a.goto("/portal/")
    badge = a.locator(".p-topbar [data-unread-count]")
    expect(badge).to_be_hidden()

    staff: Page = new_page()
    staff_violations = _csp_violations(staff)
    staff.goto("/login/")
    staff.get_by_label("Username").fill("alice")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    expect(staff).not_to_have_url(re.compile(r"/login/"))
    staff.goto("/ideas/board/")
    staff.locator('[data-column="new"]').get_by_role("link", name="Export reports to PDF").click()
    staff.get_by_label("Move to").select_option("planned")
    staff.get_by_label(re.compile("Public note")).fill("Coming in the spring release.")
    staff.get_by_role("button", name="Change status").click()
    expect(staff.locator("[data-status]").first).to_have_text("Planned")

    # Ana's page was not reloaded: the notification arrives over the event stream.
    expect(a.locator("#notification-list")).to_contain_text("is now planned", timeout=5_000)
    expect(badge).to_have_text("1")
    a.locator("#notification-list").get_by_role("link").first.click()
    expect(a.locator("[data-status-note]")).to_contain_text("Coming in the spring release.")
    assert violations == [] and staff_violations == []
    # Close the stream while the test database is still there.
    a.context.close()
    time.sleep(1)
