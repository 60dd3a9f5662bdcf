"""Read-side queries for customer value: the current run, segments, a person's figures.

Lists are cut down to the people the user may see (``access.visible_party_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Avg, Count, Sum

from kith.insights import access

from .models_value import PersonValue, Referral, ValueRun

SEGMENTS = [s.value for s in PersonValue.Segment]
ORDERS = {"clv": "-clv", "crv": "-crv", "p_alive": "-p_alive", "name": "party__display_name"}


def latest_run() -> ValueRun | None:
    """The run whose figures are current (the latest finished one), or None."""
    return ValueRun.objects.filter(status=ValueRun.Status.DONE).order_by("-id").first()


def current_job() -> ValueRun | None:
    """The most recent run whatever its state (for progress), or None."""
    return ValueRun.objects.order_by("-id").first()


@dataclass
class SegmentFigures:
    segment: str
    label: str
    people: int
    clv_total: float
    clv_mean: float
    crv_total: float
    crv_mean: float
    p_alive_mean: float | None


def segments(user, run: ValueRun | None) -> list[SegmentFigures]:
    """The four CLV × CRV segments with their counts and totals (people ``user`` may see)."""
    found: dict[str, dict] = {}
    if run is not None:
        rows = (
            PersonValue.objects.filter(run=run, party_id__in=access.visible_party_ids(user))
            .values("segment")
            .annotate(
                n=Count("id"),
                clv_sum=Sum("clv"),
                clv_avg=Avg("clv"),
                crv_sum=Sum("crv"),
                crv_avg=Avg("crv"),
                alive=Avg("p_alive"),
            )
        )
        found = {r["segment"]: r for r in rows}
    out = []
    for seg in PersonValue.Segment:
        r = found.get(seg.value, {})
        out.append(
            SegmentFigures(
                segment=seg.value,
                label=str(seg.label),
                people=int(r.get("n") or 0),
                clv_total=float(r.get("clv_sum") or 0.0),
                clv_mean=float(r.get("clv_avg") or 0.0),
                crv_total=float(r.get("crv_sum") or 0.0),
                crv_mean=float(r.get("crv_avg") or 0.0),
                p_alive_mean=float(r["alive"]) if r.get("alive") is not None else None,
            )
        )
    return out


def people(
    user,
    run: ValueRun,
    *,
    segment: str | None = None,
    order: str = "clv",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PersonValue], int]:
    """People of one segment (or all), best first by ``order``; and how many in all."""
    qs = PersonValue.objects.filter(
        run=run, party_id__in=access.visible_party_ids(user)
    ).select_related("party")
    if segment:
        qs = qs.filter(segment=segment)
    total = qs.count()
    rows = list(qs.order_by(ORDERS.get(order, "-clv"), "id")[offset : offset + limit])
    return rows, total


def value_of(party) -> PersonValue | None:
    """``party``'s figures in the current run (the caller checked it may see the party)."""
    run = latest_run()
    if run is None:
        return None
    return PersonValue.objects.filter(run=run, party=party).first()


def referrals_of(user, party) -> tuple[Referral | None, list[Referral]]:
    """Who referred ``party`` and whom ``party`` referred (only people ``user`` may see)."""
    visible = access.visible_party_ids(user)
    by = (
        Referral.objects.filter(referred=party, referrer_id__in=visible)
        .select_related("referrer")
        .first()
    )
    made = list(
        Referral.objects.filter(referrer=party, referred_id__in=visible)
        .select_related("referred")
        .order_by("-occurred_on", "-id")[:100]
    )
    return by, made


def person_by_email(user, email: str):
    """The active person ``user`` may see whose e-mail contact point is ``email``, or None."""
    from kith.people.models import ContactPoint, Party

    party_id = (
        ContactPoint.objects.filter(
            channel="email",
            normalized=email.strip().lower(),
            party__kind=Party.Kind.PERSON,
            party__status=Party.Status.ACTIVE,
            party_id__in=access.visible_party_ids(user),
        )
        .values_list("party_id", flat=True)
        .first()
    )
    return Party.objects.filter(pk=party_id).first() if party_id else None


def clv_by_party(party_ids: Iterable[int]) -> dict[int, float]:
    """Current CLV of each party (internal ids); absent: no figure (not scored)."""
    ids = {int(p) for p in party_ids}
    run = latest_run()
    if run is None or not ids:
        return {}
    return dict(
        PersonValue.objects.filter(run=run, party_id__in=ids).values_list("party_id", "clv")
    )


def idea_voter_value(ideas: Sequence) -> dict[int, float]:
    """Ranking scorer for ``kith.ideas``: the summed current CLV of each idea's voters.

    A voter without a person record, or without a figure (no purchases, no consent for
    profiling), adds nothing.
    """
    from kith.ideas.models import IdeaVote

    ids = [idea.pk for idea in ideas]
    run = latest_run()
    if run is None or not ids:
        return {}
    rows = (
        IdeaVote.objects.filter(
            idea_id__in=ids,
            voter__person__customer_values__run=run,
        )
        .values("idea_id")
        .annotate(total=Sum("voter__person__customer_values__clv"))
    )
    return {r["idea_id"]: float(r["total"] or 0.0) for r in rows}


def reputation_of(party) -> int | None:
    """The community reputation of ``party``'s login, or None (no login, no profile)."""
    try:
        from kith.community.models import MemberProfile
    except ImportError:  # community not installed
        return None
    return (
        MemberProfile.objects.filter(user__person=party)
        .values_list("reputation", flat=True)
        .first()
    )


def reputations(party_ids: Iterable[int]) -> dict[int, int]:
    """Community reputation by party id (those with a login and a profile)."""
    try:
        from kith.community.models import MemberProfile
    except ImportError:
        return {}
    return dict(
        MemberProfile.objects.filter(user__person_id__in=list(party_ids)).values_list(
            "user__person_id", "reputation"
        )
    )
