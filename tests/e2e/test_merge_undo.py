"""End to end in a real browser: merge two people, then undo the merge from the
survivor's page; both records and their timelines come back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.interactions import services as interaction_services
from kith.people.models import Party
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_undo_a_merge_restores_both_records_and_timelines(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    john = make_person(alice, given="John", family="Smith", email="john@acme.example")
    jon = make_person(alice, given="Jon", family="Smith", email="jon@home.example")
    interaction_services.log_interaction(
        actor=alice, party=john, channel="call", summary="Called John about renewal"
    )
    interaction_services.log_interaction(
        actor=alice, party=jon, channel="email", summary="Jon asked for an invoice"
    )
    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto(f"/people/{john.public_id}/merge/{jon.public_id}/?as=chosen")
    page.get_by_role("button", name=re.compile("Merge into John Smith")).click()
    expect(page).to_have_url(re.compile(rf"/people/{john.public_id}/$"))
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Jon asked for an invoice")
    expect(timeline).to_contain_text("Merged Jon Smith into this record")

    page.get_by_role("button", name="Undo merge").click()
    expect(page.locator(".messages")).to_contain_text("Merge undone")
    expect(page).to_have_url(re.compile(rf"/people/{jon.public_id}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Jon Smith")
    expect(page.locator("#timeline")).to_contain_text("Jon asked for an invoice")
    expect(page.locator("#timeline")).to_contain_text("Undid the merge")
    expect(page.locator("#timeline")).not_to_contain_text("Called John about renewal")

    page.goto(f"/people/{john.public_id}/")
    expect(page.locator("#timeline")).to_contain_text("Called John about renewal")
    expect(page.locator("#timeline")).not_to_contain_text("Jon asked for an invoice")
    expect(page.get_by_role("button", name="Undo merge")).to_have_count(0)
    assert Party.objects.get(pk=jon.pk).status == Party.Status.ACTIVE
