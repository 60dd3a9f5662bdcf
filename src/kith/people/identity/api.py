"""HTTP API for identity resolution (on the people router: staff only).

* ``GET  /api/parties/{id}/identity-matches`` — likely duplicates with probability and
  per-field match weights ("why we think these are the same");
* ``POST /api/parties/{id}/identity-matches/reject`` — "not the same person", remembered;
* ``POST /api/identity/models`` — retrain (managers), progress at
  ``GET /api/identity/models/latest``.

Accepting a match is the merge (``POST /api/parties/{id}/merge``), which records it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Schema, Status

from kith.people import access
from kith.people.api import router
from kith.people.identity import service
from kith.people.identity.models import IdentityModel


class ReasonOut(Schema):
    field: str
    label: str
    level: str
    weight: float


class IdentityMatchOut(Schema):
    id: uuid.UUID
    display_name: str
    probability: float
    match_weight: float
    source: str
    reasons: list[ReasonOut]


class RejectIn(Schema):
    other: uuid.UUID


class RejectOut(Schema):
    left: uuid.UUID
    right: uuid.UUID
    status: str


class IdentityModelOut(Schema):
    id: uuid.UUID
    status: str
    percent: int
    stage: str
    message: str
    fallback: bool
    record_count: int
    labelled_matches: int
    labelled_non_matches: int
    suggestion_count: int
    finished_at: dt.datetime | None


def _model_out(run: IdentityModel) -> dict:
    return {
        "id": run.public_id,
        "status": run.status,
        "percent": run.percent,
        "stage": run.stage,
        "message": run.message,
        "fallback": run.fallback,
        "record_count": run.record_count,
        "labelled_matches": run.labelled_matches,
        "labelled_non_matches": run.labelled_non_matches,
        "suggestion_count": run.suggestion_count,
        "finished_at": run.finished_at,
    }


@router.get(
    "/parties/{public_id}/identity-matches",
    response=list[IdentityMatchOut],
    url_name="identity_matches",
)
def identity_matches(request: HttpRequest, public_id: uuid.UUID):
    """Likely duplicates of this person with the model's probability and per-field weights."""
    party = access.get_party(request.user, public_id)
    return [
        {
            "id": c.party.public_id,
            "display_name": c.party.display_name,
            "probability": round(c.probability, 6),
            "match_weight": c.match_weight,
            "source": c.source,
            "reasons": c.reasons,
        }
        for c in service.suggestions_for(party, scope=access.staff_scope(request.user))
    ]


@router.post(
    "/parties/{public_id}/identity-matches/reject",
    response=RejectOut,
    url_name="identity_reject",
)
def identity_reject(request: HttpRequest, public_id: uuid.UUID, payload: RejectIn):
    """These two are not the same person: never suggested again (a labelled non-match)."""
    party = access.get_party_for_change(request.user, public_id)
    other = access.get_party_for_change(request.user, payload.other)
    row = service.reject(actor=request.user, a=party, b=other)
    return {"left": row.left.public_id, "right": row.right.public_id, "status": row.status}


@router.post("/identity/models", response={202: IdentityModelOut}, url_name="identity_train")
def identity_train(request: HttpRequest):
    """Retrain the identity model on the people table and staff decisions (worker job)."""
    access.require_manager(request.user)
    run = service.request_training(actor=request.user)
    return Status(202, _model_out(run))


@router.get("/identity/models/latest", response=IdentityModelOut, url_name="identity_model_latest")
def identity_model_latest(request: HttpRequest):
    """The latest training run: its progress while running, its figures when done."""
    access.require_staff(request.user)
    run = IdentityModel.objects.order_by("-created_at", "-id").first()
    if run is None:
        from kith.core.errors import NotFound

        raise NotFound("No identity model has been trained yet.")
    return _model_out(run)
