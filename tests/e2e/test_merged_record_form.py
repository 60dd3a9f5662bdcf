"""End to end: a person's edit form sent after the person was merged away changes nothing
and says so on the survivor's page (no silent redirect, no re-sent POST)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.people import merging
from kith.people.models import Party
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_edit_sent_to_a_merged_person_changes_nothing(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    keep = make_person(alice, given="John", family="Smith")
    absorb = make_person(alice, given="Jon", family="Smith")
    page = new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # staff land on their dashboard

    page.goto(f"/people/{absorb.public_id}/edit/")
    page.get_by_label("First name").fill("Jonathan")
    # Someone else merges the record while this form is open.
    merging.merge(actor=alice, keep=keep, absorb=Party.objects.get(pk=absorb.pk))
    page.get_by_role("button", name="Save changes").click()

    expect(page).to_have_url(re.compile(rf"/people/{keep.public_id}/$"))
    expect(page.get_by_role("status")).to_contain_text("nothing was changed")
    keep.refresh_from_db()
    assert keep.given_name == "John"
