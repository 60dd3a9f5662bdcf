"""The CMR part of ``kith demo``: proffered terms agreements and open intents with
offers, so a new user sees them on carol's portal page and in the staff queue."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kith.cmr import demo
from kith.cmr.models import Intent, IntentStatus, Offer, TermsAgreement
from kith.people import services as people_services
from tests.conftest import client_for, make_person


def test_load_gives_terms_intents_and_open_offers(alice, bob, carol):
    for n in range(8):
        person = make_person(None, given=f"Cust{n}", family="Omer", email=f"c{n}@example.com")
        people_services.add_relationship(actor=None, subject=person, role="customer")
    summary = demo.load(seed=3, anchor=timezone.localdate())
    assert summary == "customer data: 5 proffered terms agreements, 3 open intents with 5 offers"
    assert TermsAgreement.objects.count() == 5
    assert TermsAgreement.objects.filter(person=carol.person).exists()
    assert Intent.objects.filter(status=IntentStatus.OPEN).count() == 3
    mine = Intent.objects.get(person=carol.person)
    assert mine.share_with_partners and mine.offers.count() == 2
    assert not Offer.objects.exclude(status="open").exists()
    page = client_for(carol).get("/cmr/my/intents/").content.decode()
    assert "Team training" in page and "Customer follow-up workshop" in page
    assert "Accept" in page
    queue = client_for(alice).get("/cmr/intents/").content.decode()
    assert queue.count('class="card cmr-intent"') == 3


def test_load_without_logins_adds_nothing(db):
    summary = demo.load(seed=1, anchor=dt.date(2026, 1, 15))
    assert summary.startswith("customer terms and intents skipped")
    assert not Intent.objects.exists()
