"""HTTP API for the signed-in user and their API tokens."""

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from kith.accounts import services
from kith.accounts.models import ApiToken
from kith.core.errors import NotFound

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: uuid.UUID
    username: str
    kind: str
    role: str
    person: uuid.UUID | None
    teams: list[str]


class TokenIn(Schema):
    name: str = Field(..., max_length=120)
    expires_at: dt.datetime | None = None


class TokenOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(..., description="The secret. Shown once; store it now.")


def _token_out(t: ApiToken) -> dict:
    return {
        "id": t.public_id,
        "name": t.name,
        "prefix": f"{ApiToken.PREFIX}{t.key_id}",
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    }


@router.get("/me", response=MeOut, url_name="me")
def me(request: HttpRequest):
    user = request.user
    return {
        "id": user.public_id,
        "username": user.username,
        "kind": user.kind,
        "role": user.role,
        "person": user.person.public_id if user.person_id else None,
        "teams": list(user.teams.values_list("name", flat=True)),
    }


@router.get("/tokens", response=list[TokenOut], url_name="list_tokens")
def list_tokens(request: HttpRequest):
    return [_token_out(t) for t in request.user.api_tokens.order_by("-created_at")]


@router.post("/tokens", response={201: NewTokenOut}, url_name="create_token")
def create_token(request: HttpRequest, payload: TokenIn):
    """Issue a personal API token; the secret is in this response only."""
    token, secret = services.issue_token(
        actor=request.user, user=request.user, name=payload.name, expires_at=payload.expires_at
    )
    return Status(201, {**_token_out(token), "token": secret})


@router.delete("/tokens/{public_id}", response={204: None}, url_name="revoke_token")
def revoke_token(request: HttpRequest, public_id: uuid.UUID):
    token = request.user.api_tokens.filter(public_id=public_id).first()
    if token is None:
        raise NotFound("No such token.")
    services.revoke_token(actor=request.user, token=token)
    return Status(204, None)
