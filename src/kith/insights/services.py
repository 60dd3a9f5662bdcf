"""Insights services: requesting and running the influence graph computation.

The graph's nodes are active people; its edges are weighted, time-decayed interactions
between two people, gathered from the apps that record them:

* ``mention`` — A @mentions B in a post or comment (A → B, weight 1);
* ``reply`` — A comments on B's post (A → B, weight 1);
* ``referral`` — a relationship whose role's slug mentions "refer" (A referred B: B → A,
  weight 2: the referred person's arrival is an endorsement of the referrer);
* ``deal`` — people on the same deal (its person and its contacts), both ways, 0.5;
* ``thread`` — people whose interactions point at the same record (a case, a community
  topic, an idea, a meeting…): co-participation, both ways, 0.5 shared among the others
  so a crowded thread does not outweigh a conversation between two.

Each edge's weight halves every ``half_life_days`` of age. People who may not be
profiled (``kith.cmr`` consent for "profiling") are not in the graph at all. The mathematics is in
``kith.insights.graph``; this module turns rows into arrays and scores back into rows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.people.models import Party

from .models import InfluenceRun, InfluenceScore

logger = logging.getLogger("kith.insights")

# A record with more participants than this is a broadcast, not a conversation: pairing
# every two of them would add edges by the square without saying who talks to whom.
MAX_THREAD_PARTICIPANTS = 50


@dataclass
class EdgeList:
    """Weighted directed edges between party ids, with counts by source kind."""

    weights: dict[tuple[int, int], float] = field(default_factory=lambda: defaultdict(float))
    sources: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, a: int | None, b: int | None, weight: float, kind: str) -> None:
        if a is None or b is None or a == b or weight <= 0:
            return
        self.weights[(a, b)] += weight
        self.sources[kind] += 1


def _age_days(when: datetime | None, now: datetime) -> float:
    return 0.0 if when is None else max((now - when).total_seconds() / 86400.0, 0.0)


def gather_edges(
    *, person_ids: set[int], half_life_days: float, now: datetime | None = None
) -> EdgeList:
    """Every interaction between two of ``person_ids``, as decayed weighted edges."""
    from kith.insights.graph import decay

    now = now or timezone.now()
    edges = EdgeList()

    def w(base: float, when: datetime | None) -> float:
        return base * decay(_age_days(when, now), half_life_days)

    from kith.collab.models import Comment, Mention

    for author_post, author_comment, party, when in Mention.objects.filter(
        party_id__in=person_ids
    ).values_list("post__author_party_id", "comment__author_party_id", "party_id", "created_at"):
        author = author_comment or author_post
        if author in person_ids:
            edges.add(author, party, w(1.0, when), "mention")

    for author, post_author, when in Comment.objects.filter(
        deleted_at__isnull=True,
        author_party_id__in=person_ids,
        post__author_party_id__in=person_ids,
    ).values_list("author_party_id", "post__author_party_id", "created_at"):
        edges.add(author, post_author, w(1.0, when), "reply")

    from kith.people.models import Relationship

    for referrer, referred, when in Relationship.objects.filter(
        role__slug__icontains="refer", subject_id__in=person_ids, object_id__in=person_ids
    ).values_list("subject_id", "object_id", "created_at"):
        edges.add(referred, referrer, w(2.0, when), "referral")

    try:
        from kith.sales.models import Deal, DealContact
    except ImportError:  # sales not installed
        Deal = None
    if Deal is not None:
        on_deal: dict[int, set[int]] = defaultdict(set)
        deal_time: dict[int, datetime] = {}
        for deal_id, person, when in Deal.objects.filter(person_id__in=person_ids).values_list(
            "id", "person_id", "updated_at"
        ):
            on_deal[deal_id].add(person)
            deal_time[deal_id] = when
        for deal_id, person, when in DealContact.objects.filter(
            person_id__in=person_ids
        ).values_list("deal_id", "person_id", "deal__updated_at"):
            on_deal[deal_id].add(person)
            deal_time[deal_id] = when
        _pair_up(edges, on_deal, deal_time, 0.5, "deal", w)

    from kith.interactions.models import Interaction

    in_thread: dict[tuple[int, int], set[int]] = defaultdict(set)
    thread_time: dict[tuple[int, int], datetime] = {}
    rows = (
        Interaction.objects.filter(party_id__in=person_ids, related_type__isnull=False)
        .exclude(related_id=None)
        .values_list("related_type_id", "related_id", "party_id", "occurred_at")
        .iterator(chunk_size=5000)
    )
    for ct, obj, party, when in rows:
        key = (ct, obj)
        in_thread[key].add(party)
        if key not in thread_time or when > thread_time[key]:
            thread_time[key] = when
    _pair_up(edges, in_thread, thread_time, 0.5, "thread", w)
    return edges


def _pair_up(edges: EdgeList, groups, times, base: float, kind: str, w) -> None:
    """Link every two people of each group both ways, the base weight shared out."""
    for key, people in groups.items():
        if len(people) < 2 or len(people) > MAX_THREAD_PARTICIPANTS:
            continue
        share = w(base, times.get(key)) / (len(people) - 1)
        members = sorted(people)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                edges.add(a, b, share, kind)
                edges.add(b, a, share, kind)


PROFILING_PURPOSE = "profiling"


def profiling_allowed(person_ids: set[int]) -> set[int]:
    """The people of ``person_ids`` who may be profiled, by the consents of ``kith.cmr``.

    Same rule as ``kith.cmr.policy.has_consent``: a person's latest answer for the
    "profiling" purpose (on any channel or e-mail), else the purpose's default. Someone
    who may not be profiled is left out of the graph altogether — not analysed, and no
    score. Where the purpose does not exist (consents not set up) everyone is kept.
    """
    try:
        from kith.cmr.models import Channel, Consent, Purpose
    except ImportError:  # kith.cmr not installed
        return person_ids
    purpose = Purpose.objects.filter(key=PROFILING_PURPOSE).first()
    if purpose is None:
        return person_ids
    if not purpose.active:
        return set()
    latest: dict[int, bool] = {}
    for person, granted in (
        Consent.objects.filter(purpose=purpose, channel__in=[Channel.ANY, Channel.EMAIL])
        .order_by("person_id", "changed_at", "id")
        .values_list("person_id", "granted")
    ):
        latest[person] = granted  # oldest first: the latest answer (any or e-mail) wins
    return {p for p in person_ids if latest.get(p, purpose.default_granted)}


def request_influence_run(
    *, actor, half_life_days: float = 180.0, resolution: float = 1.0
) -> InfluenceRun:
    """Queue a recomputation of the influence graph for the worker.

    One at a time: while a run is queued or running, another request is a conflict
    (the caller is pointed at the run in progress rather than doubling the work).
    """
    errors = []
    if not (1.0 <= half_life_days <= 3650.0):
        errors.append(("half_life_days", "Between 1 and 3650 days."))
    if not (0.05 <= resolution <= 10.0):
        errors.append(("resolution", "Between 0.05 and 10."))
    if errors:
        raise ValidationFailed(errors=[FieldError(f, m) for f, m in errors])
    with transaction.atomic():
        # A running run that has not reported progress for an hour lost its worker: it no
        # longer blocks a new request. Two requests racing past this check only cost a
        # second computation (each run is claimed once, conditionally, by the worker).
        fresh = timezone.now() - timedelta(hours=1)
        busy = (
            InfluenceRun.objects.select_for_update()
            .filter(
                Q(status=InfluenceRun.Status.QUEUED)
                | Q(status=InfluenceRun.Status.RUNNING, updated_at__gte=fresh)
            )
            .first()
        )
        if busy is not None:
            raise Conflict("An influence computation is already queued or running.")
        run = InfluenceRun.objects.create(
            requested_by=actor if getattr(actor, "pk", None) else None,
            half_life_days=half_life_days,
            resolution=resolution,
        )
        audit.record(actor=actor, action="insights.influence.requested", obj=run)
        events.emit("influence_run.requested", obj=run, actor=actor)
        from kith.insights.tasks import compute_influence_task

        # Stored by the database backend in this same transaction: both or neither.
        compute_influence_task.enqueue(run.pk)
    return run


def _set_progress(run_id: int, percent: int, stage: str) -> None:
    InfluenceRun.objects.filter(pk=run_id).update(
        percent=max(0, min(100, percent)), stage=stage[:120], updated_at=timezone.now()
    )


def run_influence(*, run_id: int) -> InfluenceRun:
    """Compute the graph for the queued run ``run_id`` and store its scores.

    Progress is written as it goes (in its own short updates, visible to the page that
    polls). The scores replace the previous run's in one transaction at the end, so a
    reader sees the old scores or the new ones, never a mixture.
    """
    from kith.insights.graph import compute_influence

    claimed = InfluenceRun.objects.filter(
        pk=run_id, status__in=[InfluenceRun.Status.QUEUED, InfluenceRun.Status.FAILED]
    ).update(status=InfluenceRun.Status.RUNNING, started_at=timezone.now(), percent=1)
    run = InfluenceRun.objects.get(pk=run_id)
    if not claimed:
        return run  # already running elsewhere, or done
    try:
        _set_progress(run_id, 2, "Reading people")
        people = list(
            Party.objects.filter(kind=Party.Kind.PERSON, status=Party.Status.ACTIVE)
            .order_by("id")
            .values_list("id", flat=True)
        )
        person_set = profiling_allowed(set(people))
        _set_progress(run_id, 5, "Reading interactions between people")
        edges = gather_edges(person_ids=person_set, half_life_days=run.half_life_days)
        # Only people with at least one edge are nodes: an isolated person has no place
        # in the graph, and a graph of isolated nodes has nothing to say.
        involved = sorted({p for pair in edges.weights for p in pair})
        index = {p: i for i, p in enumerate(involved)}
        src = [index[a] for a, _ in edges.weights]
        dst = [index[b] for _, b in edges.weights]
        weights = list(edges.weights.values())

        def progress(pct: int, stage: str) -> None:
            _set_progress(run_id, 10 + int(pct * 0.8), stage)

        result = compute_influence(
            len(involved), src, dst, weights, resolution=run.resolution, progress=progress
        )
        _set_progress(run_id, 92, "Saving scores")
        with transaction.atomic():
            run = InfluenceRun.objects.select_for_update().get(pk=run_id)
            InfluenceScore.objects.filter(run__status=InfluenceRun.Status.DONE).delete()
            top = max(result.pagerank) if result.pagerank else 0.0
            order = sorted(range(result.node_count), key=lambda i: (-result.pagerank[i], i))
            rank = {node: r + 1 for r, node in enumerate(order)}
            sizes: dict[int, int] = defaultdict(int)
            for c in result.community:
                sizes[c] += 1
            InfluenceScore.objects.bulk_create(
                [
                    InfluenceScore(
                        run=run,
                        party_id=involved[i],
                        pagerank=result.pagerank[i],
                        score=result.pagerank[i] / top if top else 0.0,
                        rank=rank[i],
                        betweenness=result.betweenness[i],
                        community=result.community[i] + 1,
                        community_size=sizes[result.community[i]],
                        neighbour_communities=result.neighbour_communities[i],
                        degree=result.degree[i],
                    )
                    for i in range(result.node_count)
                ],
                batch_size=2000,
            )
            run.status = InfluenceRun.Status.DONE
            run.percent = 100
            run.stage = "Done"
            run.node_count = result.node_count
            run.edge_count = result.edge_count
            run.community_count = len(sizes)
            run.modularity = result.modularity
            run.edge_sources = dict(edges.sources)
            run.message = (
                ""
                if result.edge_count
                else (
                    "No interactions between people yet (mentions, replies, shared deals or "
                    "threads, referrals): there is no influence to measure."
                )
            )
            run.finished_at = timezone.now()
            run.save()
            audit.record(
                actor=run.requested_by,
                action="insights.influence.computed",
                obj=run,
                changes={"nodes": run.node_count, "edges": run.edge_count},
            )
            events.emit(
                "influence_run.completed",
                obj=run,
                data={"nodes": run.node_count, "edges": run.edge_count},
            )
    except Exception as exc:
        logger.exception("influence run %s failed", run_id)
        InfluenceRun.objects.filter(pk=run_id).update(
            status=InfluenceRun.Status.FAILED,
            message=f"The computation failed: {type(exc).__name__}.",
            finished_at=timezone.now(),
        )
        raise
    return run
