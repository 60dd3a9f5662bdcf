"""Community consistency check for ``kith check``: cached reputation equals the ledger.

``MemberProfile.reputation`` is a cache the services move with every ledger row
(``services._ledger``, F() updates in the same transaction); it must equal the sum of
the member's ``ReputationEvent`` points.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from kith.community.models import MemberProfile, ReputationEvent
from kith.core import consistency
from kith.core.consistency import Drift

NAME = "community.reputation"


def _ledger_sum():
    total = (
        ReputationEvent.objects.filter(user_id=OuterRef("user_id"))
        .order_by()
        .values("user_id")
        .annotate(s=Sum("points"))
        .values("s")[:1]
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def reputation_drift() -> list[Drift]:
    """Every member whose cached reputation differs from the sum of their ledger."""
    with consistency.snapshot():
        rows = list(
            MemberProfile.objects.annotate(ledger=_ledger_sum())
            .values_list("user_id", "user__username", "reputation", "ledger")
            .order_by("user_id")
        )
    return [
        Drift(NAME, f"member {name} (user {uid})", f"reputation stored {rep}, ledger {ledger}")
        for uid, name, rep, ledger in rows
        if rep != ledger
    ]


def repair_reputation(*, user_id: int) -> bool:
    """Set one member's cached reputation to their ledger's sum, under the profile's lock."""
    with transaction.atomic():
        profile = MemberProfile.objects.select_for_update().filter(user_id=user_id).first()
        if profile is None:
            return False
        ledger = ReputationEvent.objects.filter(user_id=user_id).aggregate(s=Sum("points"))["s"]
        if profile.reputation == (ledger or 0):
            return False
        MemberProfile.objects.filter(pk=profile.pk).update(reputation=ledger or 0)
    return True


@consistency.check(NAME, "each member's cached reputation equals their ledger")
def check_reputation(*, fix: bool) -> list[Drift]:
    found = reputation_drift()
    if fix:
        for item in found:
            repair_reputation(user_id=int(item.subject.rsplit("user ", 1)[1].rstrip(")")))
    return found
