"""End to end in a real browser: edit a person's tags in place in the people list."""

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
def ana():
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    return make_person(alice, given="Ana", family="Inline")


def test_edit_tags_in_the_list_cell(new_page, ana):
    page = new_page()
    # A minute per step: the machine running the suite may be loaded.
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(60_000)
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/people/?q=Inline")
    cell = page.get_by_test_id(f"inline-tags-{ana.public_id}")
    cell.get_by_role("link", name="Edit tags of Ana Inline").click()
    field = page.get_by_role("textbox", name="Tags of Ana Inline", exact=True)
    expect(field).to_be_focused(timeout=60_000)
    # An error stays in the cell, next to the input.
    field.fill("x" * 61)
    field.press("Enter")
    expect(cell.locator(".field-errors")).to_contain_text("longer than 60", timeout=60_000)
    page.get_by_role("textbox", name="Tags of Ana Inline", exact=True).fill("vip, partner")
    page.get_by_role("textbox", name="Tags of Ana Inline", exact=True).press("Enter")
    expect(cell.locator(".tag")).to_have_count(2, timeout=60_000)
    expect(cell).to_contain_text("vip")
    assert sorted(Party.objects.get(pk=ana.pk).tags.values_list("name", flat=True)) == [
        "partner",
        "vip",
    ]
