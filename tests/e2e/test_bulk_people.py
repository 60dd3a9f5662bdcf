"""End to end in a real browser: select 100 people from the list and tag them at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.people.models import Party
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crowd():
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    for i in range(100):
        make_person(alice, given=f"Person{i:03d}", family="Bulkson")
    make_person(alice, given="Not", family="Selected")
    return alice


def test_tag_100_selected_people_at_once(new_page, crowd):
    page = new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/people/?q=Bulkson")
    bar = page.locator("#bulk-form")
    page.get_by_label("Select this page").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("50")  # one page of 50 ticked
    page.locator("#results .row-check").first.uncheck()
    expect(bar.locator("[data-bulk-count]")).to_have_text("49")

    # Everything matching the search, across pages: all 100.
    bar.get_by_test_id("bulk-matching").check()
    expect(bar).to_contain_text("all 100 matching")
    bar.get_by_label("Action").select_option(label="Add tag")
    bar.get_by_label("Tag").fill("Q4 campaign")
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator(".messages")).to_contain_text("Tag added to 100 records.")
    assert Party.objects.filter(tags__name="Q4 campaign").count() == 100
    assert not Party.objects.filter(tags__name="Q4 campaign", family_name="Selected").exists()

    # The owner field shows only for that action.
    expect(bar.get_by_label("Owner")).to_be_hidden()
    bar.get_by_label("Action").select_option(label="Assign owner")
    expect(bar.get_by_label("Owner")).to_be_visible()
    page.screenshot(path="/tmp/kith-bulk.png", full_page=False)
