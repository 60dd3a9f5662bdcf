"""End to end in a real browser: a customer opens My data from the portal menu, withdraws
marketing consent, downloads the signed receipt, and the receipt verifies against the
JWKS the server publishes (and fails with one byte changed); no CSP violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr import policy, receipts, services
from kith.core.errors import ValidationFailed
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    receipts._cache.clear()
    person = make_person(None, given="Nia", family="Novak", email="nia@example.org")
    user = account_services.create_user(
        actor=None,
        username="nia@example.org",
        password=PASSWORD,
        email="nia@example.org",
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )
    services.set_consent(
        actor=user, person=person, purpose="marketing_email", granted=True, source="portal"
    )
    yield user
    receipts._cache.clear()


def test_customer_withdraws_marketing_and_downloads_a_verifiable_receipt(new_page, customer):
    page: Page = new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text[:80]) if "Content Security Policy" in m.text else None,
    )
    page.goto("/portal/login/")
    page.get_by_label("E-mail").fill("nia@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))

    page.locator(".p-sidenav").get_by_role("link", name="My data").click()
    expect(page).to_have_url(re.compile(r"/cmr/my/$"))
    expect(page.get_by_role("heading", name="What we hold about you")).to_be_visible()
    marketing = page.locator('li.cmr-consent[data-purpose="marketing_email"]')
    expect(marketing.locator(".cmr-state")).to_have_text("allowed")

    marketing.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_text("Consent withdrawn: Marketing e-mail")).to_be_visible()
    marketing = page.locator('li.cmr-consent[data-purpose="marketing_email"]')
    expect(marketing.locator(".cmr-state")).to_have_text("not allowed")
    # At once, for every sender that asks.
    assert not policy.has_consent(person=customer.person, purpose="marketing_email")

    newest = page.locator(".cmr-receipts li").first
    expect(newest).to_contain_text("withdrawn")
    with page.expect_download() as info:
        newest.get_by_role("link", name="Download receipt").click()
    with open(info.value.path(), encoding="utf-8") as fh:
        token = fh.read()

    jwks = page.request.get("/.well-known/jwks.json").json()
    body = receipts.verify(token, jwks)
    assert body["x-kith"] == {
        **body["x-kith"],
        "state": "withdrawn",
        "purposeKey": "marketing_email",
    }
    assert body["piiPrincipalId"] == str(customer.person.public_id)
    head, payload, signature = token.split(".")
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    with pytest.raises(ValidationFailed):
        receipts.verify(".".join([head, flipped, signature]), jwks)
    assert violations == []
