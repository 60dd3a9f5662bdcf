"""End to end in a real browser: open a case from the queue, reply, and find the reply
on the requester's timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.service import services
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob = account_services.create_user(
        actor=None, username="bob", password=PASSWORD, role=Role.AGENT, first_name="Bob"
    )
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    queue = services.create_queue(actor=alice, name="Support", agents=[bob])
    services.create_sla_policy(
        actor=alice,
        name="Normal",
        priority="normal",
        first_response_minutes=60,
        resolution_minutes=480,
    )
    case = services.create_case(
        actor=alice,
        data=services.CaseInput(
            subject="Printer shows error E-42", requester=ana, queue=queue, assignee=bob
        ),
    )
    return {"bob": bob, "ana": ana, "case": case}


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_reply_to_case_and_see_it_on_requester_timeline(new_page, desk):
    page = new_page()
    log_in(page, "bob")
    page.goto("/service/")
    expect(page.get_by_text("left").first).to_be_visible()  # the SLA clock is running
    page.get_by_role("link", name="Printer shows error E-42").click()
    expect(page.get_by_role("heading", name="Printer shows error E-42")).to_be_visible()

    page.get_by_label("Public reply — e-mailed to the customer").check()
    page.get_by_label("Body").fill("Please switch it off and on again.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    expect(page.locator(".msg-reply")).to_contain_text("Please switch it off and on again.")
    expect(page.get_by_test_id("case-status")).to_have_text("Open")
    expect(page.get_by_test_id("clock-first_response")).to_contain_text("Met")

    page.get_by_test_id("requester-link").click()
    expect(page).to_have_url(re.compile(rf"/people/{desk['ana'].public_id}/$"))
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Reply on [#CASE-")
    expect(timeline).to_contain_text("Please switch it off and on again.")


def test_the_reply_box_keeps_an_internal_note_and_looks_different(new_page, desk):
    """After an internal note the box stays on "Internal note" (it fell back to the
    e-mailed public reply), and the two kinds differ in colour, banner and button."""
    page = new_page()
    log_in(page, "bob")
    page.goto("/service/")
    page.get_by_role("link", name="Printer shows error E-42").click()
    public = page.get_by_label("Public reply — e-mailed to the customer")
    internal = page.get_by_label("Internal note — only staff see it")
    expect(public).to_be_checked()
    expect(page.get_by_role("button", name="Send reply to customer")).to_be_visible()
    public_background = page.locator(".reply-form").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )

    internal.check()
    expect(page.get_by_text("Internal: the customer never sees this note.")).to_be_visible()
    expect(page.get_by_role("button", name="Add internal note")).to_be_visible()
    expect(page.get_by_role("button", name="Send reply to customer")).to_be_hidden()
    note_background = page.locator(".reply-form").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert note_background != public_background

    page.get_by_label("Body").fill("Checked the printer logs.")
    page.get_by_role("button", name="Add internal note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    expect(page.get_by_label("Internal note — only staff see it")).to_be_checked()
    expect(page.get_by_role("button", name="Add internal note")).to_be_visible()
