"""HTTP API for kith.insights (thin: parse, check access, call a service or query, serialise).

Staff only (a customer's token or session answers 404 before input is read).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.accounts.auth import staff_api_auth
from kith.core.errors import NotFound
from kith.insights import access, queries, services
from kith.people import access as people_access

router = Router(tags=["insights"], auth=staff_api_auth)


class RunOut(Schema):
    id: uuid.UUID
    status: str
    percent: int
    stage: str
    half_life_days: float
    resolution: float
    node_count: int
    edge_count: int
    community_count: int
    modularity: float
    edge_sources: dict[str, int]
    message: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class RunIn(Schema):
    half_life_days: float = Field(180.0, ge=1, le=3650)
    resolution: float = Field(1.0, ge=0.05, le=10)


class ScoreOut(Schema):
    person: uuid.UUID
    name: str
    score: float
    rank: int
    pagerank: float
    betweenness: float
    community: int
    community_size: int
    neighbour_communities: int


class InfluenceOut(Schema):
    run: RunOut | None
    influencers: list[ScoreOut]
    bridges: list[ScoreOut]


class PersonInfluenceOut(Schema):
    run: uuid.UUID | None
    score: ScoreOut | None
    community_influencers: list[ScoreOut]


def _run(run) -> RunOut | None:
    if run is None:
        return None
    return RunOut(
        id=run.public_id,
        status=run.status,
        percent=run.percent,
        stage=run.stage,
        half_life_days=run.half_life_days,
        resolution=run.resolution,
        node_count=run.node_count,
        edge_count=run.edge_count,
        community_count=run.community_count,
        modularity=run.modularity,
        edge_sources=run.edge_sources or {},
        message=run.message,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def _score(s) -> ScoreOut:
    return ScoreOut(
        person=s.party.public_id,
        name=s.party.display_name,
        score=s.score,
        rank=s.rank,
        pagerank=s.pagerank,
        betweenness=s.betweenness,
        community=s.community,
        community_size=s.community_size,
        neighbour_communities=s.neighbour_communities,
    )


class ListFilter(Schema):
    community: int | None = Field(None, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=200)


@router.get("/insights/influence", response=InfluenceOut, summary="Influencers and bridges")
def influence(request: HttpRequest, filters: Query[ListFilter]):
    """The current run's top influencers (optionally of one community) and bridges."""
    access.require_staff(request.user)
    run = queries.latest_run()
    if run is None:
        return InfluenceOut(run=None, influencers=[], bridges=[])
    return InfluenceOut(
        run=_run(run),
        influencers=[
            _score(s)
            for s in queries.influencers(
                request.user, run, community=filters.community, limit=filters.limit
            )
        ],
        bridges=[_score(s) for s in queries.bridges(request.user, run, limit=filters.limit)],
    )


@router.get("/insights/influence/runs/latest", response=RunOut, summary="Latest run (progress)")
def latest_job(request: HttpRequest):
    """The most recent computation, whatever its state: poll it for progress."""
    access.require_staff(request.user)
    run = queries.current_job()
    if run is None:
        raise NotFound("No influence computation has been requested yet.")
    return _run(run)


@router.post("/insights/influence/runs", response={202: RunOut}, summary="Recompute")
def recompute(request: HttpRequest, body: RunIn):
    """Queue a recomputation (managers and admins); 409 while one is queued or running."""
    access.require_recompute(request.user)
    run = services.request_influence_run(
        actor=request.user, half_life_days=body.half_life_days, resolution=body.resolution
    )
    run.refresh_from_db()
    return Status(202, _run(run))


@router.get(
    "/insights/influence/people/{person_id}",
    response=PersonInfluenceOut,
    summary="A person's influence",
)
def person_influence(request: HttpRequest, person_id: uuid.UUID):
    """A person's score and community, and the influencers of that community."""
    access.require_staff(request.user)
    party = people_access.get_party(request.user, person_id, kind="person")
    run = queries.latest_run()
    score = queries.score_of(request.user, party)
    members = (
        queries.influencers(request.user, run, community=score.community, limit=10)
        if score is not None
        else []
    )
    return PersonInfluenceOut(
        run=run.public_id if run else None,
        score=_score(score) if score else None,
        community_influencers=[_score(s) for s in members],
    )
