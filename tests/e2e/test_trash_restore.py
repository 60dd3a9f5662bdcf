"""End to end in a real browser: delete a person from their page, undo from the trash
page, and find the person's page again with its timeline (history, the delete and the
restore)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.interactions import services as interaction_services
from kith.people.models import ContactPoint, Party
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_delete_a_person_then_restore_from_the_trash(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    interaction_services.log_interaction(
        actor=alice, party=ana, channel="call", summary="Called Ana about the renewal"
    )
    page = new_page()
    page.set_default_timeout(60_000)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto(f"/people/{ana.public_id}/")
    expect(page.locator("#timeline")).to_contain_text("Called Ana about the renewal")
    page.get_by_test_id("delete-party").click()
    expect(page).to_have_url(re.compile(r"/people/$"))
    expect(page.locator(".messages")).to_contain_text("Ana Lima deleted.")
    assert not Party.objects.filter(public_id=ana.public_id).exists()

    # The trash, from the account menu.
    page.locator(".user-menu summary").click()
    page.get_by_test_id("trash-link").click()
    expect(page).to_have_url(re.compile(r"/trash/$"))
    row = page.get_by_test_id("trash-row").filter(has_text="Ana Lima")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Restore").click()

    expect(page).to_have_url(re.compile(rf"/people/{ana.public_id}/$"))
    expect(page.locator(".messages")).to_contain_text("restored")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana Lima")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Called Ana about the renewal")
    expect(timeline).to_contain_text("Deleted by alice")
    expect(timeline).to_contain_text("Restored from the trash")
    assert ContactPoint.objects.filter(party__public_id=ana.public_id).count() == 1

    page.goto("/trash/")
    expect(page.get_by_test_id("trash-row")).to_have_count(0)
