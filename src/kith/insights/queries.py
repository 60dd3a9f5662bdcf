"""Read-side queries for insights: the current influence run, a person's score, lists."""

from __future__ import annotations

from collections.abc import Iterable

from kith.insights import access

from .models import InfluenceRun, InfluenceScore


def latest_run() -> InfluenceRun | None:
    """The run whose scores are current (the latest finished one), or None."""
    return InfluenceRun.objects.filter(status=InfluenceRun.Status.DONE).order_by("-id").first()


def current_job() -> InfluenceRun | None:
    """The most recent run whatever its state (for progress), or None."""
    return InfluenceRun.objects.order_by("-id").first()


def influence_score(person_ids: Iterable[int]) -> dict[int, float]:
    """Influence of each person (internal party ids) in [0, 1]: 1 is the top influencer.

    For callers such as listening's queue priority. A person absent from the result has
    no score (not in the graph, no interactions with other people, or no run yet) —
    callers treat that as "unknown", not as zero influence.
    """
    ids = {int(p) for p in person_ids}
    run = latest_run()
    if run is None or not ids:
        return {}
    return dict(
        InfluenceScore.objects.filter(run=run, party_id__in=ids).values_list("party_id", "score")
    )


def score_of(user, party) -> InfluenceScore | None:
    """``party``'s score in the current run (the caller already checked it may see it)."""
    run = latest_run()
    if run is None:
        return None
    return InfluenceScore.objects.filter(run=run, party=party).first()


def _visible(user, run: InfluenceRun):
    return InfluenceScore.objects.filter(
        run=run, party_id__in=access.visible_party_ids(user)
    ).select_related("party")


def influencers(user, run: InfluenceRun, *, community: int | None = None, limit: int = 20):
    """The most influential people ``user`` may see, overall or in one community."""
    qs = _visible(user, run)
    if community is not None:
        qs = qs.filter(community=community)
    return list(qs.order_by("rank")[:limit])


def bridges(user, run: InfluenceRun, *, limit: int = 20):
    """People on the paths between communities: highest betweenness, two or more
    communities among their neighbours."""
    qs = _visible(user, run).filter(neighbour_communities__gte=2, betweenness__gt=0)
    return list(qs.order_by("-betweenness", "rank")[:limit])


def communities(run: InfluenceRun, *, limit: int = 50) -> list[dict]:
    """Communities by size: number, size (counts only, no names)."""
    seen: dict[int, int] = {}
    for community, size in (
        InfluenceScore.objects.filter(run=run)
        .values_list("community", "community_size")
        .distinct()
        .order_by("-community_size", "community")
    ):
        seen.setdefault(community, size)
    return [{"community": c, "size": s} for c, s in list(seen.items())[:limit]]
