"""Intentcasting: a customer files an intent, staff answer with offers, the customer
accepts one and a deal is created on the person; intents expire; every step is on the
timeline, audited and announced; customers reach only their own intents."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.accounts import services as account_services
from kith.cmr import intents, services, terms
from kith.cmr.models import Intent, Offer
from kith.core.errors import Conflict
from kith.core.models import AuditEntry, OutboxEvent
from kith.interactions.models import Interaction
from kith.sales.models import Deal
from tests.concurrency import require_postgres, run_together
from tests.conftest import PASSWORD, ApiClient, client_for, make_person

INTENT = {
    "category": "Espresso machine",
    "description": "A dual-boiler machine for a small office.",
    "budget_min": "800",
    "budget_max": "1500",
    "currency": "EUR",
    "days": 14,
}


def _file(user, **extra):
    made = ApiClient(user).post("/api/cmr/me/intents", {**INTENT, **extra})
    assert made.status_code == 201, made.content
    return made.json()


def test_intent_offer_accept_creates_a_deal_on_the_timeline(alice, carol):
    terms.proffer(actor=carol, person=carol.person, terms=[{"id": "no_sharing"}])
    intent = _file(carol)
    assert intent["status"] == "open" and intent["terms"] == [{"id": "no_sharing"}]
    queue = ApiClient(alice).get("/api/cmr/intents").json()["items"]
    assert [i["id"] for i in queue] == [intent["id"]]
    offers = []
    for title, price in (("Duo 2000", "1290.00"), ("Solo 900", "890.00")):
        made = ApiClient(alice).post(
            f"/api/cmr/intents/{intent['id']}/offers", {"title": title, "price": price}
        )
        assert made.status_code == 201, made.content
        offers.append(made.json())
    mine = ApiClient(carol).get(f"/api/cmr/me/intents/{intent['id']}").json()
    assert [o["title"] for o in mine["offers"]] == ["Duo 2000", "Solo 900"]
    accepted = ApiClient(carol).post(f"/api/cmr/me/offers/{offers[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["status"] == "accepted" and body["deal"]
    assert [o["status"] for o in body["offers"]] == ["accepted", "lapsed"]
    deal = Deal.objects.get(public_id=body["deal"])
    assert deal.person_id == carol.person_id and str(deal.amount) == "1290.00"
    assert deal.owner == alice
    kinds = list(
        Interaction.objects.filter(party=carol.person, kind="intent").values_list(
            "summary", flat=True
        )
    )
    assert any(s.startswith("Intent filed") for s in kinds)
    assert sum(s.startswith("Offer made") for s in kinds) == 2
    assert any(s.startswith("Offer accepted") for s in kinds)
    actions = set(
        AuditEntry.objects.filter(party_id=carol.person_id).values_list("action", flat=True)
    )
    assert {"intent.filed", "offer.made", "offer.accepted", "deal.created"} <= actions
    names = set(OutboxEvent.objects.values_list("name", flat=True))
    assert {"intent.filed", "offer.made", "offer.accepted"} <= names
    # Closed: no second acceptance, no new offer.
    again = ApiClient(carol).post(f"/api/cmr/me/offers/{offers[1]['id']}/accept")
    assert again.status_code == 409
    late = ApiClient(alice).post(
        f"/api/cmr/intents/{intent['id']}/offers", {"title": "Late", "price": "1"}
    )
    assert late.status_code == 409
    assert Deal.objects.filter(person=carol.person).count() == 1


def test_bad_intents_and_offers_are_clear_422s(alice, carol):
    cases = [
        ({"category": ""}, "category"),
        ({"budget_min": "lots"}, "budget_min"),
        ({"budget_min": "900", "budget_max": "100"}, "budget_max"),
        ({"currency": "E1"}, "currency"),
        ({"needed_by": "2001-01-01"}, "needed_by"),
        ({"days": 0}, "days"),
        ({"days": 9999}, "days"),
    ]
    for extra, field in cases:
        answer = ApiClient(carol).post("/api/cmr/me/intents", {**INTENT, **extra})
        assert answer.status_code == 422, (extra, answer.content)
        assert field in [e["field"] for e in answer.json()["errors"]], (extra, answer.json())
    unknown = ApiClient(carol).post("/api/cmr/me/intents", {**INTENT, "colour": "red"})
    assert unknown.status_code == 422
    assert not Intent.objects.exists()
    intent = _file(carol)
    for body, field in (
        ({"title": "", "price": "10"}, "title"),
        ({"title": "X", "price": "-1"}, "price"),
        ({"title": "X", "price": "ten"}, "price"),
        ({"title": "X", "price": "1", "valid_until": "2001-01-01"}, "valid_until"),
    ):
        answer = ApiClient(alice).post(f"/api/cmr/intents/{intent['id']}/offers", body)
        assert answer.status_code == 422, (body, answer.content)
    assert not Offer.objects.exists()


def test_intents_expire_by_the_worker_job_and_then_refuse(alice, carol):
    intent = _file(carol, days=1)
    made = ApiClient(alice).post(
        f"/api/cmr/intents/{intent['id']}/offers", {"title": "Duo", "price": "100"}
    )
    offer = made.json()
    row = Intent.objects.get(public_id=intent["id"])
    # Past its time but not yet swept: acceptance is refused all the same.
    Intent.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    refused = ApiClient(carol).post(f"/api/cmr/me/offers/{offer['id']}/accept")
    assert refused.status_code == 409 and "expired" in refused.content.decode()
    assert intents.expire_due() == 1
    assert intents.expire_due() == 0  # once
    row.refresh_from_db()
    assert row.status == "expired" and row.offers.get().status == "lapsed"
    assert Interaction.objects.filter(party=carol.person, summary__startswith="Intent expired")
    assert not Deal.objects.filter(person=carol.person).exists()
    assert ApiClient(alice).get("/api/cmr/intents").json()["items"] == []


def test_customers_reach_only_their_own_intents_and_offers(alice, carol, dora):
    intent = _file(carol)
    offer = (
        ApiClient(alice)
        .post(f"/api/cmr/intents/{intent['id']}/offers", {"title": "Duo", "price": "100"})
        .json()
    )
    other = ApiClient(dora)
    assert other.get(f"/api/cmr/me/intents/{intent['id']}").status_code == 404
    assert other.post(f"/api/cmr/me/intents/{intent['id']}/withdraw").status_code == 404
    assert other.post(f"/api/cmr/me/offers/{offer['id']}/accept").status_code == 404
    assert other.get("/api/cmr/me/intents").json()["items"] == []
    assert other.get("/api/cmr/intents").status_code == 404  # the staff queue
    assert (
        client_for(dora).post(f"/cmr/my/offers/{offer['id']}/", {"accept": "true"}).status_code
        == 404
    )
    assert Offer.objects.get().status == "open"


def test_sharing_with_partners_obeys_terms(carol):
    services.set_consent(
        actor=carol, person=carol.person, purpose="partner_sharing", granted=True, source="portal"
    )
    shared = _file(carol, share_with_partners=True)
    assert [i.public_id for i in intents.for_partners()] == [Intent.objects.get().public_id]
    terms.proffer(actor=carol, person=carol.person, terms=[{"id": "no_sharing"}])
    # The intent filed before is no longer shown to partners, and a new one cannot be shared.
    assert intents.for_partners() == []
    refused = ApiClient(carol).post("/api/cmr/me/intents", {**INTENT, "share_with_partners": True})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "share_with_partners"
    assert shared["share_with_partners"] is True


def test_the_portal_and_staff_pages(alice, carol):
    customer = client_for(carol)
    page = customer.get("/cmr/my/intents/")
    assert page.status_code == 200 and b"What I am looking for" in page.content
    filed = customer.post(
        "/cmr/my/intents/",
        {"category": "Bike", "description": "A cargo bike", "budget_max": "3000", "days": "10"},
    )
    assert filed.status_code == 302
    bad = customer.post("/cmr/my/intents/", {"category": "", "description": "x"})
    assert bad.status_code == 422 and b"This field is required" in bad.content
    intent = Intent.objects.get()
    staff = client_for(alice)
    queue = staff.get("/cmr/intents/")
    assert queue.status_code == 200 and b"A cargo bike" in queue.content
    sent = staff.post(
        f"/cmr/people/{carol.person.public_id}/intents/{intent.public_id}/offers/",
        {"title": "Cargo 3", "price": "2800", "next": "queue"},
    )
    assert sent.status_code == 302
    person_page = staff.get(f"/people/{carol.person.public_id}/")
    assert b"Cargo 3" in person_page.content
    offer = Offer.objects.get()
    accepted = customer.post(f"/cmr/my/offers/{offer.public_id}/", {"accept": "true"})
    assert accepted.status_code == 302
    intent.refresh_from_db()
    assert intent.status == "accepted" and intent.deal.person_id == carol.person_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_racing_acceptances_make_one_deal(settings, tmp_path):
    """Two offers accepted at once (two tabs): the intent's row lock lets one win."""
    require_postgres()
    staff = account_services.create_user(
        actor=None, username="owner", password=PASSWORD, role="admin"
    )
    person = make_person(None, given="Race", family="Customer", email="race@example.com")
    intent = intents.file_intent(
        actor=None,
        person=person,
        data=intents.IntentInput(category="Bike", description="A bike", currency="EUR"),
    )
    offers = [
        intents.make_offer(
            actor=staff, intent=intent, data=intents.OfferInput(title=f"Bike {n}", price="100")
        )
        for n in range(4)
    ]
    won, failed = run_together(lambda offer: intents.accept_offer(actor=None, offer=offer), offers)
    conflicts = [e for e in failed if isinstance(e, Conflict)]
    errors = [e for e in failed if not isinstance(e, Conflict)]
    assert not errors
    assert len(won) == 1 and len(conflicts) == len(offers) - 1
    assert Deal.objects.filter(person=person).count() == 1
    assert Offer.objects.filter(status="accepted").count() == 1
