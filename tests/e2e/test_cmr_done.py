"""Issue 11's Done-means flow in a real browser: a member of staff opens a customer's
record; the customer opens My data and sees that view in the transparency log, withdraws
marketing consent, downloads the signed receipt (it verifies against the JWKS), sets
their terms and files an intent; staff answer it with an offer from the intents queue;
the customer accepts and a deal exists on the person. No CSP violation on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr import policy, receipts, services, terms
from kith.cmr.models import Intent
from kith.sales.models import Deal
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    receipts._cache.clear()
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    person = make_person(None, given="Nia", family="Novak", email="nia@example.org")
    nia = account_services.create_user(
        actor=None,
        username="nia@example.org",
        password=PASSWORD,
        email="nia@example.org",
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )
    services.set_consent(
        actor=nia, person=person, purpose="marketing_email", granted=True, source="portal"
    )
    yield {"alice": alice, "nia": nia, "person": person}
    receipts._cache.clear()


def _watch_csp(page: Page, into: list[str]) -> None:
    # The shared test machine can be slow: generous waits, the assertions stay the same.
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.on(
        "console",
        lambda m: into.append(m.text[:80]) if "Content Security Policy" in m.text else None,
    )


def test_customer_control_from_my_data_to_an_accepted_offer(new_page, people):
    expect.set_options(timeout=60_000)
    violations: list[str] = []
    person = people["person"]

    # Staff look at the record (a read the customer will see).
    staff: Page = new_page()
    _watch_csp(staff, violations)
    staff.goto("/login/")
    staff.get_by_label("Username").fill("alice")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.goto(f"/people/{person.public_id}/")
    expect(staff.get_by_role("heading", name="Nia Novak")).to_be_visible()

    # The customer opens My data: the staff view is in the transparency log.
    page: Page = new_page()
    _watch_csp(page, violations)
    page.goto("/portal/login/")
    page.get_by_label("E-mail").fill("nia@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    page.locator(".p-sidenav").get_by_role("link", name="My data").click()
    expect(page).to_have_url(re.compile(r"/cmr/my/$"))
    reads = page.locator('#transparency li[data-kind="read"]')
    expect(reads.first).to_be_visible()

    # Withdraw marketing consent and download the receipt, which verifies.
    marketing = page.locator('li.cmr-consent[data-purpose="marketing_email"]')
    marketing.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_text("Consent withdrawn: Marketing e-mail")).to_be_visible()
    assert not policy.has_consent(person=person, purpose="marketing_email")
    newest = page.locator(".cmr-receipts li").first
    with page.expect_download() as info:
        newest.get_by_role("link", name="Download receipt").click()
    with open(info.value.path(), encoding="utf-8") as fh:
        token = fh.read()
    jwks = page.request.get("/.well-known/jwks.json").json()
    assert receipts.verify(token, jwks)["x-kith"]["state"] == "withdrawn"

    # Set terms: no sharing with third parties.
    section = page.locator("#terms")
    section.get_by_label("No data sharing with third parties").check()
    section.get_by_role("button", name="Set my terms").click()
    expect(page.get_by_text("Your terms were accepted and are in force.")).to_be_visible()
    assert "no_sharing" in terms.in_force(person)

    # File an intent.
    page.get_by_role("link", name="Tell us what you need").click()
    expect(page).to_have_url(re.compile(r"/cmr/my/intents/$"))
    page.get_by_label("What kind of thing").fill("Espresso machine")
    page.get_by_label("What you need").fill("A dual-boiler machine for a small office.")
    page.get_by_label("Budget from").fill("800")
    page.get_by_label("to", exact=True).fill("1500")
    page.get_by_role("button", name="Send my intent").click()
    expect(page.get_by_text("was sent to our team")).to_be_visible()
    intent = Intent.objects.get(person=person)

    # Staff answer from the intents queue.
    staff.goto("/cmr/intents/")
    card = staff.locator(f'[data-intent="{intent.public_id}"]')
    expect(card).to_contain_text("dual-boiler")
    card.get_by_label("Offer").fill("Duo 2000 with grinder")
    card.get_by_label("Price").fill("1290")
    card.get_by_role("button", name="Send offer").click()
    expect(staff.get_by_text("Offer “Duo 2000 with grinder” sent.")).to_be_visible()

    # The customer sees the offer and accepts it: a deal exists on the person.
    page.reload()
    offer = page.locator(".cmr-offer", has_text="Duo 2000 with grinder")
    expect(offer).to_contain_text("1290")
    offer.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You accepted “Duo 2000 with grinder”")).to_be_visible()
    deal = Deal.objects.get(person=person)
    assert deal.amount == 1290 and "Espresso machine" in deal.title
    intent.refresh_from_db()
    assert intent.status == "accepted" and intent.deal_id == deal.pk
    assert violations == []
