"""End to end in a real browser: a customer gets their referral link, a friend opens it
in another browser, signs up with the code filled in and verifies; the referrer's page
then counts one person brought (without naming them). A made-up code shows a clear
error page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.insights.models_value import Referral
from kith.people import services as people_services
from tests.conftest import PASSWORD, make_person
from tests.e2e.test_portal_flow import read_link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ana(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "sent-mail"
    email = "ana@example.org"
    person = make_person(None, given="Ana", family="Customer", email=email)
    people_services.add_relationship(actor=None, subject=person, role="customer")
    user = account_services.create_user(
        actor=None,
        username=email,
        password=PASSWORD,
        email=email,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )
    return {"user": user, "mail": tmp_path / "sent-mail"}


def test_a_friend_signs_up_through_a_referral_link(new_page, ana, live_server):
    page: Page = new_page(390, 844)
    page.goto("/portal/login/")
    page.get_by_label("E-mail").fill("ana@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    page.goto("/portal/referrals/")  # "Invite friends" in the (folded, on a phone) menu
    page.get_by_role("button", name="Get my referral link").click()
    link = page.get_by_test_id("referral-link").input_value()
    code = page.get_by_test_id("referral-code").inner_text()
    assert link.endswith(f"/portal/r/{code}/")

    friend: Page = new_page(1280, 900)
    friend.goto("/portal/r/NOTACODE1/")
    expect(friend.get_by_test_id("referral-error")).to_have_text("This referral code is not valid.")
    friend.goto(link.replace("http://testserver", live_server.url))
    expect(friend.get_by_label(re.compile("Referral code"))).to_have_value(code)
    friend.get_by_label("Given name").fill("Nia")
    friend.get_by_label("Family name").fill("Novak")
    friend.get_by_label("E-mail").fill("nia@example.org")
    friend.get_by_label("Password").fill(PASSWORD)
    friend.get_by_role("button", name="Sign up").click()
    expect(friend.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    friend.goto(read_link(ana["mail"], "nia@example.org"))
    friend.get_by_role("button", name="Confirm and continue").click()
    expect(friend).to_have_url(re.compile(r"/portal/$"))
    assert Referral.objects.get().referrer == ana["user"].person

    page.reload()
    expect(page.get_by_test_id("referred-count")).to_contain_text("1 person has joined")
    expect(page.locator("body")).not_to_contain_text("Nia")
