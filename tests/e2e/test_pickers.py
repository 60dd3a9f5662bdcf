"""End to end in a real browser: record pickers are a type-ahead over the search service.

Among 10,000 people, one created a second before is found by typing part of the
name, chosen with the keyboard; an organisation that does not exist yet is created
from the picker itself; the deal saves both.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.people.models import Party
from kith.sales.models import Deal
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_pick_a_person_created_a_second_ago_among_10000(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Person {i:05d}", sort_name=f"person {i:05d}")
            for i in range(10_000)
        ],
        batch_size=2000,
    )
    zora = make_person(alice, given="Zora", family="Quintero")

    page = new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))

    page.goto("/sales/deals/new/")
    page.get_by_label("Title").fill("Picked in the browser")
    person = page.get_by_role("combobox", name="Person")
    person.press_sequentially("quint", delay=20)
    expect(page.get_by_role("option", name="Zora Quintero")).to_be_visible()
    person.press("ArrowDown")  # to the "Create person" row and back up to the match
    person.press("ArrowUp")
    person.press("Enter")
    expect(person).to_have_value("Zora Quintero")

    org = page.get_by_role("combobox", name="Organisation")
    org.fill("Quintero Trading")
    create = page.get_by_role("option", name=re.compile("Create organisation"))
    expect(create).to_be_visible()
    create.dispatch_event("mousedown")
    expect(org).to_have_value("Quintero Trading")
    # The text is the typed name at once; the organisation exists, and is chosen in the
    # form's hidden select, only when the create request has answered.
    expect(page.locator("select[name=organization] option:checked")).to_have_text(
        "Quintero Trading"
    )

    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_role("heading", name="Picked in the browser")).to_be_visible()
    deal = Deal.objects.get(title="Picked in the browser")
    assert deal.person_id == zora.pk
    assert deal.organization.display_name == "Quintero Trading"
