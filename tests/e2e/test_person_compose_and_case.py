"""End to end in a real browser, from a person's page: write them an e-mail and find it
on their timeline; start a case filled in with them and their organisation, create it;
delete it from its page (confirmed in a second click), see it gone from the queue, and
undo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.core.models import TrashItem
from kith.interactions.models import Interaction
from kith.people import services as people_services
from kith.service.models import Case
from tests.conftest import PASSWORD, make_org, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crm(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    # A manager: deleting a case is for admins and managers (as in the API).
    account_services.create_user(
        actor=None, username="mia", password=PASSWORD, role=Role.MANAGER, first_name="Mia"
    )
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    acme = make_org(alice, "Acme Ltd")
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    return {"ana": ana, "acme": acme}


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_email_then_case_from_a_person_page_then_delete_the_case(new_page, crm):
    ana = crm["ana"]
    person_url = re.compile(rf"/people/{ana.public_id}/$")
    page = new_page()
    log_in(page, "mia")

    # E-mail Ana from her page; it is on her timeline at once.
    page.goto(f"/people/{ana.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana Lima")
    page.get_by_role("link", name="E-mail").click()
    expect(page.get_by_role("heading", name="E-mail Ana Lima")).to_be_visible()
    expect(page.get_by_label("To")).to_have_value("ana@example.com")
    page.get_by_label("Subject").fill("Your warranty renewal")
    page.get_by_label("Message").fill("Hello Ana, your warranty ends next month.")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(person_url)
    expect(page.locator(".messages")).to_contain_text("E-mail to ana@example.com is on its way.")
    expect(page.locator("#timeline")).to_contain_text("Your warranty renewal")
    assert Interaction.objects.filter(
        party=ana, channel="email", summary="Your warranty renewal"
    ).exists()

    # A new case from her page: she is the requester, Acme (her current role) the organisation.
    page.get_by_role("link", name="New case").click()
    expect(page.get_by_role("heading", name="New case")).to_be_visible()
    expect(page.get_by_role("combobox", name="Requester", exact=True)).to_have_value("Ana Lima")
    expect(page.get_by_role("combobox", name="Organisation")).to_have_value("Acme Ltd")
    expect(page.get_by_label("Requester e-mail")).to_have_value("ana@example.com")
    page.get_by_label("Subject").fill("Warranty does not cover the printer")
    page.get_by_label("Description").fill("She asked by phone after our e-mail.")
    page.get_by_role("button", name="Create case").click()

    heading = page.get_by_role("heading", name="Warranty does not cover the printer")
    expect(heading).to_be_visible()
    case = Case.objects.get(subject="Warranty does not cover the printer")
    expect(page).to_have_url(re.compile(rf"/service/cases/{case.public_id}/$"))
    expect(page.locator(".messages")).to_contain_text(f"Case {case.token} created.")
    expect(page.get_by_test_id("requester-link")).to_have_text("Ana Lima")
    expect(page.locator(".page-head")).to_contain_text("of Acme Ltd")
    assert (case.requester_id, case.organization_id) == (ana.pk, crm["acme"].pk)

    # Delete it from its page: a second click confirms; the queue says so and offers Undo.
    confirm = page.get_by_role("button", name="Delete this case")
    expect(confirm).to_be_hidden()
    page.get_by_test_id("delete-case").get_by_text("Delete…").click()
    expect(page.get_by_text("It goes to the trash, where it can be restored.")).to_be_visible()
    confirm.click()
    expect(page).to_have_url(re.compile(r"/service/$"))
    messages = page.locator(".messages")
    expect(messages).to_contain_text(
        f"Case #{case.number} “Warranty does not cover the printer” deleted."
    )
    expect(page.get_by_role("link", name="Warranty does not cover the printer")).to_have_count(0)
    assert not Case.objects.filter(pk=case.pk).exists()
    assert TrashItem.objects.filter(kind="case").count() == 1

    # Undo brings it back to its page.
    messages.get_by_role("button", name="Undo").click()
    expect(page).to_have_url(re.compile(rf"/service/cases/{case.public_id}/$"))
    expect(heading).to_be_visible()
    assert Case.objects.filter(public_id=case.public_id).exists()
