"""Demo customer value for ``kith demo``: referrals among the demo customers, then a run.

Runs after the other demos (the demo transactions are written with the people). About
one demo buyer in six is recorded as referred by an earlier buyer (a code, a deal or by
hand; some "would have come anyway", some unknown, a few with an incentive), through the
same service staff use; then customer value is computed at once (the worker would pick
the queued run up otherwise), so the value pages, segments and person panels are not
empty. ``wipe`` removes the demo's referrals and runs (figures go with them).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Min

from kith.core.errors import KithError

from . import value
from .models_value import Referral, ValueRun

DEMO_CHANNEL = "demo"
CODES = ("FRIEND10", "WELCOME", "SPRING")


def load(*, seed: int, anchor: dt.date) -> str:
    """Record demo referrals and compute customer value; returns a one-line summary."""
    from kith.interactions.models import Transaction
    from kith.people.models import Party

    alice = get_user_model().objects.filter(username="alice").first()
    rng = random.Random(seed + 1717)
    first_buy = dict(
        Transaction.objects.filter(kind="order", party__kind=Party.Kind.PERSON)
        .values("party_id")
        .annotate(first=Min("occurred_at"))
        .values_list("party_id", "first")
    )
    buyers = sorted(first_buy, key=lambda p: (first_buy[p], p))
    parties = {p.pk: p for p in Party.objects.filter(pk__in=buyers)}
    made = 0
    for i, referred in enumerate(buyers):
        if i < 10 or rng.random() > 0.17 or Referral.objects.filter(referred_id=referred).exists():
            continue
        # Referred by an earlier customer, with a few heavy referrers (the advocates).
        pool = buyers[: max(i // 3, 1)] if rng.random() < 0.5 else buyers[:i]
        referrer = rng.choice(pool)
        roll = rng.random()
        try:
            value.record_referral(
                actor=alice,
                referrer=parties[referrer],
                referred=parties[referred],
                occurred_on=first_buy[referred].date(),
                code=rng.choice(CODES) if roll < 0.4 else "",
                would_have_come=None if roll < 0.6 else (roll > 0.85),
                incentive=Decimal("10.00") if rng.random() < 0.3 else Decimal(0),
            )
            made += 1
        except KithError:
            continue
    _grant_demo_profiling(alice, [parties[p] for p in buyers], rng)
    try:
        run = value.request_value_run(actor=alice)
    except KithError as exc:
        return f"{made} referrals; customer value not computed ({exc.message})"
    run = value.run_value(run_id=run.pk)
    run.refresh_from_db()
    return (
        f"{made} referrals; customer value for {run.scored_count} people "
        f"({run.status}{': ' + run.message if run.message else ''})"
    )


def wipe() -> None:
    """Delete the demo's referrals and value runs (those the demo's audit entries name)."""
    from kith.core.inputs import whole_number
    from kith.core.models import AuditEntry

    def ids(action: str) -> list[int]:
        found = AuditEntry.objects.filter(channel=DEMO_CHANNEL, action=action).values_list(
            "object_id", flat=True
        )
        return [pk for pk in (whole_number(str(i)) for i in found) if pk is not None]

    Referral.objects.filter(pk__in=ids("insights.referral.recorded")).delete()
    ValueRun.objects.filter(pk__in=ids("insights.value.requested")).delete()


def _grant_demo_profiling(actor, buyers: list, rng: random.Random) -> None:
    """Most demo buyers who may not be profiled yet agreed when they signed up (an
    import), some did not.

    Customer value scores only people who consented (``kith.cmr``), so without these
    answers the demo's value page would be empty.
    """
    try:
        from kith.cmr import services as cmr_services
    except ImportError:  # consents not installed: everyone may be profiled
        return
    from kith.insights.services import profiling_allowed

    allowed = profiling_allowed({p.pk for p in buyers})
    for person in buyers:
        if person.pk in allowed:  # already answered yes, or the purpose grants by default
            continue
        try:
            cmr_services.set_consent(
                actor=actor,
                person=person,
                purpose="profiling",
                granted=rng.random() < 0.85,
                source="import",
            )
        except KithError:
            continue
