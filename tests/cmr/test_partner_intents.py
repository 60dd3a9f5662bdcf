"""Partners answer intents shared with them: the partner page lists only open intents
customers shared with partners (while their terms allow it), shows what the intent says
and nothing about who filed it, and takes an offer the customer sees beside the
company's. Anyone but a partner gets 404."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr import intents, services, terms
from kith.cmr.models import Intent, IntentStatus, Offer
from kith.people import services as people_services
from kith.sales.models import Deal
from tests.conftest import PASSWORD, ApiClient, client_for, make_person

pytestmark = pytest.mark.django_db

INTENT = {
    "category": "Espresso machine",
    "description": "A dual-boiler machine for a small office.",
    "budget_min": "800",
    "budget_max": "1500",
    "currency": "EUR",
    "location": "Lisbon",
    "days": 14,
}


@pytest.fixture
def pat(db) -> User:
    """A partner: a portal login whose Person holds a current partner role."""
    person = make_person(None, given="Pat", family="Partner", email="pat@partner.example")
    people_services.add_relationship(actor=None, subject=person, role="partner")
    return account_services.create_user(
        actor=None,
        username="pat",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )


def _file(user, **extra) -> Intent:
    made = ApiClient(user).post("/api/cmr/me/intents", {**INTENT, **extra})
    assert made.status_code == 201, made.content
    return Intent.objects.get(public_id=made.json()["id"])


def _allow_sharing(user) -> None:
    services.set_consent(
        actor=user, person=user.person, purpose="partner_sharing", granted=True, source="portal"
    )


def test_a_partner_sees_only_shared_intents_without_contact_details(pat, carol):
    _allow_sharing(carol)
    shared = _file(carol, share_with_partners=True, description="Shared: dual boiler.")
    private = _file(carol, category="Private wish", description="Not for partners.")
    page = client_for(pat).get("/cmr/partner/intents/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Shared: dual boiler." in html and "Lisbon" in html and str(shared.public_id) in html
    assert "Private wish" not in html and str(private.public_id) not in html
    # Nothing about who filed it.
    assert "Carol" not in html and "carol@example.com" not in html
    assert str(carol.person.public_id) not in html
    assert "Shared intents (partners)" in html  # the partner's navigation


def test_a_partner_answers_and_the_customer_accepts(pat, carol, alice):
    _allow_sharing(carol)
    shared = _file(carol, share_with_partners=True)
    partner = client_for(pat)
    bad = partner.post(f"/cmr/partner/intents/{shared.public_id}/offers/", {"title": "X"})
    assert bad.status_code == 422 and not Offer.objects.exists()
    sent = partner.post(
        f"/cmr/partner/intents/{shared.public_id}/offers/",
        {"title": "Rocket R58", "price": "1400", "currency": "EUR"},
    )
    assert sent.status_code == 302
    offer = Offer.objects.get()
    assert offer.partner == pat.person and offer.made_by == pat
    assert "Rocket R58" in partner.get("/cmr/partner/intents/").content.decode()
    # The customer sees it labelled as a partner's offer, and staff in their queue.
    mine = client_for(carol).get("/cmr/my/intents/").content.decode()
    assert "Rocket R58" in mine and "from our partner Pat Partner" in mine
    assert "partner Pat Partner" in client_for(alice).get("/cmr/intents/").content.decode()
    # A staff offer on the same intent is not shown to the partner.
    intents.make_offer(
        actor=alice, intent=shared, data=intents.OfferInput(title="House blend", price="900")
    )
    assert "House blend" not in partner.get("/cmr/partner/intents/").content.decode()
    accepted = client_for(carol).post(f"/cmr/my/offers/{offer.public_id}/", {"accept": "true"})
    assert accepted.status_code == 302
    shared.refresh_from_db()
    assert shared.status == IntentStatus.ACCEPTED and shared.deal is not None
    assert Deal.objects.get(pk=shared.deal_id).person == carol.person
    # Closed: gone from the partner's page, and a late offer is a 404.
    assert str(shared.public_id) not in partner.get("/cmr/partner/intents/").content.decode()
    late = partner.post(
        f"/cmr/partner/intents/{shared.public_id}/offers/", {"title": "Late", "price": "1"}
    )
    assert late.status_code == 404


def test_only_partners_and_only_shared_intents(pat, carol, alice):
    _allow_sharing(carol)
    private = _file(carol)
    shared = _file(carol, share_with_partners=True)
    url = f"/cmr/partner/intents/{private.public_id}/offers/"
    assert client_for(pat).post(url, {"title": "T", "price": "1"}).status_code == 404
    # A customer who is not a partner, and staff, get 404 on the page and the form.
    for user in (carol, alice):
        client = client_for(user)
        assert client.get("/cmr/partner/intents/").status_code == 404
        shared_url = f"/cmr/partner/intents/{shared.public_id}/offers/"
        assert client.post(shared_url, {"title": "T", "price": "1"}).status_code == 404
    assert not Offer.objects.exists()
    # When the customer's terms stop sharing, the intent leaves the partner's page.
    terms.proffer(actor=carol, person=carol.person, terms=[{"id": "no_sharing"}])
    html = client_for(pat).get("/cmr/partner/intents/").content.decode()
    assert str(shared.public_id) not in html and 'data-testid="no-shared-intents"' in html
    shared_url = f"/cmr/partner/intents/{shared.public_id}/offers/"
    assert client_for(pat).post(shared_url, {"title": "T", "price": "1"}).status_code == 404


def test_partners_answer_through_the_api_too(pat, carol, alice):
    _allow_sharing(carol)
    shared = _file(carol, share_with_partners=True)
    private = _file(carol, category="Private wish")
    api = ApiClient(pat)
    listed = api.get("/api/cmr/partner-intents").json()["items"]
    assert [i["id"] for i in listed] == [str(shared.public_id)]
    url = f"/api/cmr/partner-intents/{shared.public_id}/offers"
    # Bad input: field errors, nothing written; a product is not the partner's to name.
    bad = api.post(url, {"title": "", "price": "lots"})
    assert bad.status_code == 422 and not Offer.objects.exists()
    assert (
        api.post(url, {"title": "T", "price": "1", "product": str(shared.public_id)}).status_code
        == 422
    )
    made = api.post(url, {"title": "Rocket R58", "price": "1400", "currency": "EUR"})
    assert made.status_code == 201, made.content
    assert made.json()["title"] == "Rocket R58" and made.json()["status"] == "open"
    offer = Offer.objects.get()
    assert offer.partner == pat.person and offer.made_by == pat
    # Their own offers only: a staff offer on the same intent is not listed.
    intents.make_offer(
        actor=alice, intent=shared, data=intents.OfferInput(title="House blend", price="900")
    )
    mine = api.get(url).json()["items"]
    assert [o["title"] for o in mine] == ["Rocket R58"]
    # Not shared, not a partner, or the customer's own intent: 404, nothing written.
    assert (
        api.post(
            f"/api/cmr/partner-intents/{private.public_id}/offers", {"title": "T", "price": "1"}
        ).status_code
        == 404
    )
    assert api.get(f"/api/cmr/partner-intents/{private.public_id}/offers").status_code == 404
    for user in (carol, alice):
        assert ApiClient(user).post(url, {"title": "T", "price": "1"}).status_code == 404
        assert ApiClient(user).get(url).status_code == 404
    assert ApiClient(None).post(url, {"title": "T", "price": "1"}).status_code in (401, 404)
    assert Offer.objects.count() == 2
