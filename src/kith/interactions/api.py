"""HTTP API for interactions, transactions and the per-party timeline."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.cmr import transparency
from kith.core.errors import ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.pagination import clamp_limit, paginate
from kith.interactions import access, queries, services
from kith.interactions.models import Channel, Interaction, Transaction
from kith.people import access as people_access

router = Router(tags=["interactions"])


class InteractionIn(Schema):
    channel: str = Field(..., examples=["email"])
    summary: str = Field(..., max_length=300)
    direction: str = "in"
    kind: str = Field("note", max_length=40)
    occurred_at: dt.datetime | None = None
    body: str = Field("", max_length=100_000)
    sentiment: float | None = None
    source: str = Field("", max_length=60)
    external_id: str = Field("", max_length=255)
    duration_seconds: int | None = Field(None, description="Calls and meetings: how long")
    outcome: str = Field("", max_length=20, description="Calls and meetings: how it went")


class InteractionOut(Schema):
    id: uuid.UUID
    party: uuid.UUID
    party_name: str
    channel: str
    direction: str
    kind: str
    occurred_at: dt.datetime
    summary: str
    body: str
    sentiment: float | None
    source: str
    external_id: str
    duration_seconds: int | None
    outcome: str
    created_at: dt.datetime


class InteractionPage(Schema):
    items: list[InteractionOut]
    next_cursor: str | None


class TransactionIn(Schema):
    kind: str = Field(..., examples=["order"])
    amount: Decimal = Field(..., examples=["129.00"])
    currency: str = Field(..., min_length=3, max_length=3, examples=["EUR"])
    occurred_at: dt.datetime | None = None
    reference: str = Field("", max_length=120)
    description: str = Field("", max_length=300)
    source: str = Field("", max_length=60)
    external_id: str = Field("", max_length=255)


class TransactionOut(Schema):
    id: uuid.UUID
    party: uuid.UUID
    party_name: str
    kind: str
    amount: Decimal
    currency: str
    occurred_at: dt.datetime
    reference: str
    description: str
    source: str
    external_id: str


class TransactionPage(Schema):
    items: list[TransactionOut]
    next_cursor: str | None


class TimelineItemOut(Schema):
    type: str
    id: uuid.UUID
    occurred_at: dt.datetime
    channel: str
    direction: str
    kind: str
    summary: str
    sentiment: float | None = None
    amount: Decimal | None = None
    currency: str | None = None
    party: uuid.UUID
    party_name: str


class TimelinePageOut(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None


class ListQuery(Schema):
    channel: str = ""
    party: uuid.UUID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: str | None = None
    limit: int | None = None


class TimelineQuery(Schema):
    channel: list[str] = Field(
        default_factory=list, description="Only these channels (repeatable)."
    )
    cursor: str | None = None
    limit: int | None = None


def interaction_out(i: Interaction) -> dict[str, Any]:
    return {
        "id": i.public_id,
        "party": i.party.public_id,
        "party_name": i.party.display_name,
        "channel": i.channel,
        "direction": i.direction,
        "kind": i.kind,
        "occurred_at": i.occurred_at,
        "summary": i.summary,
        "body": i.body,
        "sentiment": i.sentiment,
        "source": i.source,
        "external_id": i.external_id,
        "duration_seconds": i.duration_seconds,
        "outcome": i.outcome,
        "created_at": i.created_at,
    }


def transaction_out(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.public_id,
        "party": t.party.public_id,
        "party_name": t.party.display_name,
        "kind": t.kind,
        "amount": t.amount,
        "currency": t.currency,
        "occurred_at": t.occurred_at,
        "reference": t.reference,
        "description": t.description,
        "source": t.source,
        "external_id": t.external_id,
    }


def timeline_item_out(entry: queries.TimelineEntry) -> dict[str, Any]:
    item = entry.item
    if entry.type == "interaction":
        return {
            "type": "interaction",
            "id": item.public_id,
            "occurred_at": item.occurred_at,
            "channel": item.channel,
            "direction": item.direction,
            "kind": item.kind,
            "summary": item.summary,
            "sentiment": item.sentiment,
            "party": item.party.public_id,
            "party_name": item.party.display_name,
        }
    sign = "-" if item.kind == Transaction.Kind.REFUND else ""
    return {
        "type": "transaction",
        "id": item.public_id,
        "occurred_at": item.occurred_at,
        "channel": "commerce",
        "direction": "in" if item.kind != Transaction.Kind.REFUND else "out",
        "kind": item.kind,
        "summary": f"{item.get_kind_display()} {sign}{item.amount} {item.currency} {item.reference}".strip(),
        "amount": item.amount,
        "currency": item.currency,
        "party": item.party.public_id,
        "party_name": item.party.display_name,
    }


def _filtered(qs, query: ListQuery, request: HttpRequest):
    if query.party:
        party = people_access.get_party(request.user, query.party)
        qs = qs.filter(party=party)
    if query.since:
        qs = qs.filter(occurred_at__gte=query.since)
    if query.until:
        qs = qs.filter(occurred_at__lt=query.until)
    return qs


@router.get("/interactions", response=InteractionPage, url_name="list_interactions")
def list_interactions(request: HttpRequest, query: Query[ListQuery]):
    qs = _filtered(
        access.scope_party_interactions(request.user).select_related("party"), query, request
    )
    if query.channel:
        if query.channel not in Channel.values:
            raise ValidationFailed.single(
                "channel", f"Must be one of: {', '.join(Channel.values)}."
            )
        qs = qs.filter(channel=query.channel)
    # Mirrors of records the caller may not see are left out (a mirror obeys its source).
    page = access.take_visible(
        request.user,
        qs,
        order=("-occurred_at", "-id"),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {"items": [interaction_out(i) for i in page.items], "next_cursor": page.next_cursor}


@router.get("/interactions/{public_id}", response=InteractionOut, url_name="get_interaction")
def get_interaction(request: HttpRequest, public_id: uuid.UUID):
    return interaction_out(access.get_interaction(request.user, public_id))


@router.post(
    "/parties/{public_id}/interactions",
    response={200: InteractionOut, 201: InteractionOut},
    url_name="log_interaction",
)
@idempotent
def log_interaction(request: HttpRequest, public_id: uuid.UUID, payload: InteractionIn):
    """Log a touchpoint. The same (source, external_id) twice answers 200 with the first one."""
    party = people_access.get_party_for_change(request.user, public_id)
    interaction, created = services.log_interaction(
        actor=request.user, party=party, **payload.model_dump()
    )
    body = InteractionOut.model_validate(interaction_out(interaction)).model_dump(mode="json")
    return Status(201 if created else 200, body)


@router.get("/transactions", response=TransactionPage, url_name="list_transactions")
def list_transactions(request: HttpRequest, query: Query[ListQuery]):
    qs = _filtered(access.scope_transactions(request.user).select_related("party"), query, request)
    page = paginate(
        qs, order=("-occurred_at", "-id"), cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {"items": [transaction_out(t) for t in page.items], "next_cursor": page.next_cursor}


@router.get("/transactions/{public_id}", response=TransactionOut, url_name="get_transaction")
def get_transaction(request: HttpRequest, public_id: uuid.UUID):
    return transaction_out(access.get_transaction(request.user, public_id))


@router.post(
    "/parties/{public_id}/transactions",
    response={200: TransactionOut, 201: TransactionOut},
    url_name="record_transaction",
)
@idempotent
def record_transaction(request: HttpRequest, public_id: uuid.UUID, payload: TransactionIn):
    party = people_access.get_party_for_change(request.user, public_id)
    tx, created = services.record_transaction(
        actor=request.user, party=party, **payload.model_dump()
    )
    return Status(
        201 if created else 200,
        TransactionOut.model_validate(transaction_out(tx)).model_dump(mode="json"),
    )


def _timeline(
    request: HttpRequest, public_id: uuid.UUID, query: TimelineQuery, kind: str | None
) -> dict[str, Any]:
    party = people_access.get_party(request.user, public_id, kind=kind)
    transparency.record_read(request, party, "api")  # kith.cmr: the person's read log
    bad = [c for c in query.channel if c not in Channel.values and c != "commerce"]
    if bad:
        raise ValidationFailed.single("channel", f"Unknown channel {bad[0]!r}.")
    channels = [c for c in query.channel if c != "commerce"]
    page = queries.timeline(
        party,
        reader=request.user,
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
        channels=channels or None,
        include_transactions=not query.channel or "commerce" in query.channel,
        include_interactions=not query.channel or bool(channels),
        member_scope=people_access.staff_scope(request.user),
    )
    party_cache = {party.pk: party}
    for entry in page.entries:
        pid = entry.item.party_id
        if pid not in party_cache:
            party_cache[pid] = entry.item.party
        entry.item.party = party_cache[pid]
    return {"items": [timeline_item_out(e) for e in page.entries], "next_cursor": page.next_cursor}


@router.get("/people/{public_id}/timeline", response=TimelinePageOut, url_name="person_timeline")
def person_timeline(request: HttpRequest, public_id: uuid.UUID, query: Query[TimelineQuery]):
    """Every interaction and transaction of this person, newest first."""
    return _timeline(request, public_id, query, "person")


@router.get(
    "/organizations/{public_id}/timeline",
    response=TimelinePageOut,
    url_name="organization_timeline",
)
def organization_timeline(request: HttpRequest, public_id: uuid.UUID, query: Query[TimelineQuery]):
    """The organisation's own interactions and transactions plus those of its people."""
    return _timeline(request, public_id, query, "organization")
