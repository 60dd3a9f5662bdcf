"""End to end in a real browser: customer A asks (similar questions show while typing),
customer B answers, A accepts; B's reputation rises by the configured points, and staff
see it with the accepted answer on B's timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.community import services as community_services
from kith.community.models import MemberProfile
from kith.people import services as people_services
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _customer(username: str, given: str) -> User:
    email = f"{username}@example.org"
    person = make_person(None, given=given, family="Customer", email=email)
    people_services.add_relationship(actor=None, subject=person, role="customer")
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
def community(settings):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    space = community_services.create_space(
        actor=alice, name="Customer lounge", slug="lounge", audience="customers"
    )
    community_services.create_topic(
        actor=alice, space=space, title="Export invoices to Excel", body="How?"
    )
    return {
        "alice": alice,
        "space": space,
        "ana": _customer("ana", "Ana"),
        "ben": _customer("ben", "Ben"),
    }


def _login(page: Page, email: str) -> None:
    page.goto("/portal/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))


def _csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: (
            found.append(f"{page.url}: {msg.text[:80]}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    return found


def test_ask_answer_accept_reputation_and_timeline(new_page, community, live_server):
    a: Page = new_page(390, 844)
    violations = _csp_violations(a)
    _login(a, "ana@example.org")
    a.goto("/community/s/lounge/ask/")
    a.get_by_label("Title").fill("How do I export invoices?")
    # Similar questions come while typing (htmx, no inline script).
    expect(a.locator("#c-similar")).to_contain_text("Export invoices to Excel")
    a.get_by_label("Details").fill("I need them for my accountant.")
    a.get_by_role("button", name="Post").click()
    expect(a.get_by_role("heading", name="How do I export invoices?")).to_be_visible()
    topic_url = a.url

    b: Page = new_page(390, 844)
    _login(b, "ben@example.org")
    b.goto(topic_url)
    b.get_by_label("Your answer").fill("Use **Export › Excel** in the invoice list.")
    b.get_by_role("button", name="Post your answer").click()
    expect(b.locator(".c-post strong", has_text="Export › Excel")).to_be_visible()

    a.reload()
    a.get_by_role("button", name="Accept this answer").click()
    expect(a.get_by_text("Accepted answer")).to_be_visible()

    ben = community["ben"]
    points = community["space"].point("answer_accepted")
    assert MemberProfile.objects.get(user=ben).reputation == points
    b.goto("/community/mine/")
    expect(b.locator("[data-my-reputation]")).to_have_text(str(points))

    staff: Page = new_page()
    staff.goto("/login/")
    staff.get_by_label("Username").fill("alice")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    staff.goto(f"/people/{ben.person.public_id}/")
    expect(staff.locator("#community-panel [data-reputation]")).to_have_text(str(points))
    expect(staff.get_by_text("Answer accepted: How do I export invoices?").first).to_be_visible()
    assert violations == []
