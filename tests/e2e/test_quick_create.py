"""End to end in a real browser: a new person with a role at an organisation found by
type-ahead, in one step; the person page then leads with the timeline, and on a phone
the timeline comes before the profile."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.people.models import Party, Relationship
from tests.conftest import PASSWORD, make_org

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_create_a_person_with_a_role_at_an_organisation_picked_by_type_ahead(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    acme = make_org(alice, name="Acme Quarries")

    page = new_page()
    # The shared test machine is slow under load; a slow first page is not what this tests.
    page.set_default_navigation_timeout(60_000)
    page.set_default_timeout(30_000)
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))

    page.goto("/people/new/")
    page.get_by_label("First name").fill("Nadia")
    page.get_by_label("Last name").fill("Okafor")
    page.get_by_label("Role", exact=True).select_option("employee")
    org = page.get_by_role("combobox", name="At organisation")
    org.press_sequentially("quarr", delay=20)
    expect(page.get_by_role("option", name="Acme Quarries")).to_be_visible()
    # The picker offers no "Create …" of its own here: a new one is named beside it.
    expect(page.get_by_role("option", name=re.compile("Create organisation"))).to_have_count(0)
    org.press("Enter")
    expect(org).to_have_value("Acme Quarries")
    page.get_by_role("button", name="Create").click()

    expect(page.get_by_role("heading", level=1, name="Nadia Okafor")).to_be_visible()
    nadia = Party.objects.get(display_name="Nadia Okafor")
    rel = Relationship.objects.get(subject=nadia)
    assert rel.object_id == acme.pk and rel.role.slug == "employee"
    expect(page.locator(".role-pill")).to_contain_text("of Acme Quarries")

    # On a phone the timeline comes before the profile.
    page.set_viewport_size({"width": 390, "height": 844})
    timeline = page.locator("#timeline").bounding_box()
    profile = page.locator("#profile-h").bounding_box()
    assert timeline["y"] < profile["y"]
