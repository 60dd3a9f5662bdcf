"""End to end in a real browser: the admin sees the first-run checklist, invites a
colleague, the colleague accepts the invitation and logs in; the admin adds a stage to
a pipeline from the settings."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.sales.models import Stage
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-long-and-new-password-42"
# The shared machine is often loaded (load 10+): give pages a minute, not ten seconds.
SLOW = 60_000


def slow_page(new_page) -> Page:
    page = new_page()
    page.set_default_timeout(SLOW)
    page.set_default_navigation_timeout(SLOW)
    expect.set_options(timeout=SLOW)
    return page


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_invite_accept_log_in_and_add_a_stage(new_page):
    account_services.create_user(actor=None, username="alice", password=PASSWORD, role=Role.ADMIN)
    admin = slow_page(new_page)
    log_in(admin, "alice", PASSWORD)
    checklist = admin.get_by_test_id("onboarding")
    expect(checklist).to_contain_text("0 of 3 done")

    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(admin.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    admin.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    admin.get_by_role("link", name="Invite a user").click()
    admin.get_by_label("E-mail address").fill("nina@example.com")
    admin.get_by_label("First name").fill("Nina")
    admin.get_by_label("Role").select_option("manager")
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.get_by_role("heading", name="Invitation sent")).to_be_visible()
    link = admin.get_by_test_id("invite-link").input_value()
    assert "/settings/invitations/" in link

    invitee = slow_page(new_page)
    # The link names the configured site (KITH_BASE_URL); here, the live server's.
    invitee.goto("/" + link.split("/", 3)[3])
    expect(invitee.get_by_role("heading", name="Welcome to Kith")).to_be_visible()
    invitee.locator("#id_password").fill(NEW_PASSWORD)
    invitee.get_by_label("Password again").fill("something-else-entirely")
    invitee.get_by_role("button", name="Set my password").click()
    expect(invitee.get_by_text("Password again: The two passwords differ.")).to_be_visible()
    invitee.locator("#id_password").fill(NEW_PASSWORD)
    invitee.get_by_label("Password again").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Set my password").click()
    expect(invitee).to_have_url(re.compile(r"/login/$"))
    log_in(invitee, "nina@example.com", NEW_PASSWORD)
    expect(invitee.get_by_label(re.compile("Account menu for nina@example.com"))).to_be_visible()
    assert User.objects.get(username="nina@example.com").role == "manager"

    # The invitation ticked off its step of the checklist.
    admin.goto("/settings/welcome/")
    expect(admin.locator('[data-step="invite"]')).to_have_attribute("data-done", "true")

    admin.goto("/settings/")
    admin.get_by_role("navigation", name="Settings").get_by_role("link", name="Pipelines").click()
    expect(admin).to_have_url(re.compile(r"/sales/pipelines/$"))
    form = admin.get_by_role("form", name=re.compile("Add a stage to")).first
    form.get_by_label("Name").fill("Legal review")
    form.get_by_label("Default probability (%)").fill("70")
    form.get_by_role("button", name="Add stage").click()
    expect(admin.locator(".stage-table").first).to_contain_text("Legal review")
    assert Stage.objects.filter(name="Legal review", probability=70).exists()
