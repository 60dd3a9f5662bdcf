"""API schemas for people, organisations, contact points and relationships."""

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema

from kith.people.models import ContactPoint, Party, Relationship, RoleType
from kith.people.queries import current_roles


class PartyFilterQuery(Schema):
    """The list filters shared by lists, search and exports (query parameters)."""

    q: str = ""
    role: str = ""
    organization: str = ""
    tag: str = ""
    owner: str = ""


class ContactPointIn(Schema):
    channel: str = Field(..., max_length=30, examples=["email"])
    value: str = Field(..., max_length=500, examples=["ana@example.com"])
    label: str = Field("", max_length=40)
    primary: bool = False
    verified: bool = False


class ContactPointPatch(Schema):
    value: str | None = Field(None, max_length=500)
    label: str | None = Field(None, max_length=40)
    primary: bool | None = None
    verified: bool | None = None


class ContactPointOut(Schema):
    id: uuid.UUID
    channel: str
    value: str
    normalized: str
    label: str
    primary: bool
    verified: bool


class RoleOut(Schema):
    id: uuid.UUID
    role: str
    role_name: str
    object: uuid.UUID | None
    object_name: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    current: bool
    note: str


class PartyBase(Schema):
    display_name: str | None = Field(None, max_length=300)
    locale: str | None = Field(None, max_length=20)
    timezone: str | None = Field(None, max_length=64)
    notes: str | None = Field(None, max_length=20000)
    tags: list[str] | None = None
    interests: list[str] | None = None
    attributes: dict[str, Any] | None = None
    visibility: Literal["private", "team", "everyone"] | None = None
    team: str | None = Field(None, description="Team name, for team visibility.")
    owner: str | None = Field(
        None,
        description=(
            "Username of the owner (on create, default: you). On an update, null or an"
            " empty string takes the owner away (admins and managers only)."
        ),
    )


class PersonIn(PartyBase):
    given_name: str | None = Field(None, max_length=150)
    family_name: str | None = Field(None, max_length=150)
    title: str | None = Field(None, max_length=150)
    birthday: dt.date | None = None
    contact_points: list[ContactPointIn] = []


class OrganizationIn(PartyBase):
    legal_name: str | None = Field(None, max_length=300)
    industry: str | None = Field(None, max_length=120)
    contact_points: list[ContactPointIn] = []


class PartyOut(Schema):
    id: uuid.UUID
    kind: str
    display_name: str
    given_name: str
    family_name: str
    title: str
    legal_name: str
    industry: str
    locale: str
    timezone: str
    birthday: dt.date | None
    notes: str
    interests: list[str]
    attributes: dict[str, Any]
    tags: list[str]
    visibility: str
    owner: str | None
    status: str
    merged_into: uuid.UUID | None
    contact_points: list[ContactPointOut]
    roles: list[RoleOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class PartyPage(Schema):
    items: list[PartyOut]
    next_cursor: str | None
    count: int | None = Field(
        ...,
        description=(
            "How many records the list has with these filters, over all pages. Exact up "
            "to KITH_EXACT_COUNT_LIMIT (10,000 by default); beyond that, on PostgreSQL, "
            "the database's estimate (see count_is_estimate). For a search (q) it is "
            "exact when this page is the last, and null while more results follow "
            "(ranked matches are not counted in full)."
        ),
    )
    count_is_estimate: bool = Field(
        ...,
        description="True when count is the database planner's estimate, not an exact count.",
    )


class RelationshipIn(Schema):
    role: str = Field(..., description="Role slug, e.g. customer, employee, partner.")
    object: uuid.UUID | None = Field(
        None, description="The party the role is held towards; empty means us."
    )
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    note: str = Field("", max_length=300)


class RelationshipPatch(Schema):
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    note: str | None = Field(None, max_length=300)


class RelationshipOut(RoleOut):
    subject: uuid.UUID
    subject_name: str


class RelationshipPage(Schema):
    items: list[RelationshipOut]
    next_cursor: str | None


class RoleTypeIn(Schema):
    slug: str = Field("", max_length=40)
    name: str = Field(..., max_length=80)
    object_label: str = Field("", max_length=80)
    applies_to: Literal["person", "organization", "any"] = "any"
    description: str = Field("", max_length=300)


class RoleTypeOut(Schema):
    id: uuid.UUID
    slug: str
    name: str
    object_label: str
    applies_to: str
    description: str


class FieldDefinitionIn(Schema):
    key: str = Field(..., max_length=60)
    label: str = Field(..., max_length=120)
    type: Literal["text", "number", "date", "boolean", "choice", "url", "email"] = "text"
    choices: list[str] = []
    required: bool = False
    applies_to: Literal["person", "organization", "any"] = "person"


class FieldDefinitionOut(Schema):
    id: uuid.UUID
    key: str
    label: str
    type: str
    choices: list[str]
    required: bool
    applies_to: str


class MergeIn(Schema):
    absorb: uuid.UUID = Field(..., description="The record that disappears into this one.")
    choices: dict[str, Literal["keep", "absorb"]] = Field(default_factory=dict)


class MergeFieldOut(Schema):
    field: str
    keep_value: Any
    absorb_value: Any
    conflict: bool
    default: str


class MergePreviewOut(Schema):
    keep: uuid.UUID
    absorb: uuid.UUID
    fields: list[MergeFieldOut]
    conflicts: list[str]
    moves: dict[str, int]
    result: dict[str, Any]
    blockers: list[str]


class DuplicateOut(Schema):
    id: uuid.UUID
    display_name: str
    reason: str
    score: float


class SavedViewIn(Schema):
    name: str = Field(..., max_length=120)
    filters: dict[str, str] = {}


class SavedViewOut(Schema):
    id: uuid.UUID
    name: str
    filters: dict[str, str]


# ---------------------------------------------------------------- serialisers


def contact_point_out(cp: ContactPoint) -> dict[str, Any]:
    return {
        "id": cp.public_id,
        "channel": cp.channel,
        "value": cp.value,
        "normalized": cp.normalized,
        "label": cp.label,
        "primary": cp.primary,
        "verified": cp.verified,
    }


def relationship_out(rel: Relationship) -> dict[str, Any]:
    return {
        "id": rel.public_id,
        "subject": rel.subject.public_id,
        "subject_name": rel.subject.display_name,
        "role": rel.role.slug,
        "role_name": rel.role.name,
        "object": rel.object.public_id if rel.object_id else None,
        "object_name": rel.object.display_name if rel.object_id else None,
        "valid_from": rel.valid_from,
        "valid_to": rel.valid_to,
        "current": rel.is_current(),
        "note": rel.note,
    }


def party_out(
    party: Party,
    *,
    all_roles: bool = False,
    relationships: list | None = None,
    contact_points: list | None = None,
    tags: list | None = None,
    viewer=None,
) -> dict[str, Any]:
    """The API shape of a party; ``relationships``, ``contact_points`` and ``tags`` given
    by a caller that knows them (a create) are not read again.

    With a ``viewer``, roles towards a party the viewer may not see are left out: their
    names and ids must not leak through a record the viewer may see (the web UI hides
    them the same way)."""
    if relationships is not None:
        rels = relationships
    elif all_roles:
        rels = list(
            party.relationships.select_related("role", "object", "subject").order_by(
                "-valid_from", "id"
            )
        )
    else:
        rels = current_roles(party)
    for rel in rels:
        rel.subject = party
    if viewer is not None:
        from kith.people.access import is_visible

        rels = [r for r in rels if r.object_id is None or is_visible(viewer, r.object)]
    return {
        "id": party.public_id,
        "kind": party.kind,
        "display_name": party.display_name,
        "given_name": party.given_name,
        "family_name": party.family_name,
        "title": party.title,
        "legal_name": party.legal_name,
        "industry": party.industry,
        "locale": party.locale,
        "timezone": party.timezone,
        "birthday": party.birthday,
        "notes": party.notes,
        "interests": list(party.interests),
        "attributes": dict(party.attributes),
        "tags": sorted(t.name for t in (party.tags.all() if tags is None else tags)),
        "visibility": party.visibility,
        "owner": party.owner.get_username() if party.owner_id else None,
        "status": party.status,
        "merged_into": party.merged_into.public_id if party.merged_into_id else None,
        "contact_points": [
            contact_point_out(cp)
            for cp in (
                party.contact_points.all()
                if contact_points is None
                else sorted(contact_points, key=ContactPoint.sort_key)
            )
        ],
        "roles": [relationship_out(r) for r in rels],
        "created_at": party.created_at,
        "updated_at": party.updated_at,
    }


def role_type_out(role: RoleType) -> dict[str, Any]:
    return {
        "id": role.public_id,
        "slug": role.slug,
        "name": role.name,
        "object_label": role.object_label,
        "applies_to": role.applies_to,
        "description": role.description,
    }
