"""Demo customer-managed relationship data for ``kith demo``: terms customers proffered,
and open intents with offers waiting for the customer's decision.

Through the same services the portal and staff use (on the demo audit channel): carol
(the demo customer) and a few other customers proffer terms from the roster (accepted
or counter-offered by the company's policy, signed like any agreement); carol and two
other customers publish intents — carol's shared with partners, after she consents to
partner sharing — and staff answer each with one or two offers, left open so a new user
sees the whole loop (compare, accept or decline) on carol's "What I am looking for"
page and in the staff intents queue. Nothing is accepted, so no deal is created here.
Everything hangs off the demo people and goes with them on ``wipe``.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from kith.core.errors import KithError

# (category, description, budget min, budget max, days open, location, offers)
INTENTS = [
    (
        "Team training",
        "Half-day training on customer follow-up for 8 people in our sales team.",
        "1200",
        "2500",
        21,
        "Online or at our office",
        [
            ("Customer follow-up workshop (half day, on site)", "2200"),
            ("Online course, 8 seats, 3 months access", "1450"),
        ],
    ),
    (
        "More user licences",
        "We need 15 more seats before the new quarter.",
        "3000",
        "6000",
        30,
        "",
        [("15 seats, annual plan, 10 % volume discount", "5400")],
    ),
    (
        "Data migration help",
        "Move 20,000 contacts and their history from our old CRM.",
        "",
        "4000",
        14,
        "Remote",
        [("Guided migration with two review calls", "3200"), ("Self-service import kit", "900")],
    ),
]

# Terms proffered by customers after carol (the roster's ids; months where a term asks).
TERMS = [
    [{"id": "no_sharing"}],
    [{"id": "no_tracking"}],
    [{"id": "delete_after_inactivity", "months": 24}],
    [{"id": "no_sharing"}, {"id": "delete_after_inactivity", "months": 36}],
]


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo terms, intents and offers; returns a one-line summary."""
    from kith.accounts.models import User
    from kith.cmr import intents, services, terms
    from kith.cmr.models import Source
    from kith.people.models import Party

    rng = random.Random(seed + 1111)
    staff = [u for u in User.objects.filter(username__in=["bob", "mia", "alice"]) if u]
    carol = User.objects.filter(username="carol", kind=User.Kind.PORTAL).first()
    if not staff:
        return "customer terms and intents skipped (no demo staff logins)"
    customers = list(
        Party.objects.holding("customer")
        .filter(kind=Party.Kind.PERSON, status=Party.Status.ACTIVE)
        .exclude(pk=getattr(carol, "person_id", None))
        .order_by("id")[:40]
    )
    rng.shuffle(customers)
    agreements = 0
    filed = 0
    offers = 0
    # Terms: carol's, then a few other customers' (recorded by staff on the phone).
    if carol is not None and carol.person_id:
        terms.proffer(
            actor=carol,
            person=carol.person,
            terms=[{"id": "delete_after_inactivity", "months": 24}],
            source=Source.PORTAL,
        )
        agreements += 1
    for person, proffered in zip(customers[: len(TERMS)], TERMS, strict=False):
        try:
            terms.proffer(actor=staff[0], person=person, terms=proffered, source=Source.STAFF)
            agreements += 1
        except KithError:
            continue
    # Intents: carol's first (shared with partners), then two other customers'.
    filers: list[tuple[object, Party]] = []
    if carol is not None and carol.person_id:
        services.set_consent(
            actor=carol,
            person=carol.person,
            purpose="partner_sharing",
            granted=True,
            source="portal",
        )
        filers.append((carol, carol.person))
    others = [p for p in customers[len(TERMS) :]][: 3 - len(filers)]
    filers += [(staff[0], p) for p in others]
    for (actor, person), spec in zip(filers, INTENTS, strict=False):
        category, description, low, high, days, location, answers = spec
        try:
            intent = intents.file_intent(
                actor=actor,
                person=person,
                data=intents.IntentInput(
                    category=category,
                    description=description,
                    budget_min=low or None,
                    budget_max=high or None,
                    currency="EUR",
                    location=location,
                    share_with_partners=actor is carol,
                    days=days,
                ),
            )
        except KithError:
            continue
        filed += 1
        for title, price in answers:
            intents.make_offer(
                actor=rng.choice(staff),
                intent=intent,
                data=intents.OfferInput(
                    title=title,
                    price=price,
                    currency="EUR",
                    # Intents open from now (file_intent), whatever the anchor: offers too.
                    valid_until=timezone.localdate() + dt.timedelta(days=days),
                ),
            )
            offers += 1
    return (
        f"customer data: {agreements} proffered terms agreements, {filed} open intents "
        f"with {offers} offers"
    )


def wipe() -> None:
    """Nothing of its own: the terms, intents, offers and consents go with the demo people."""
