"""HTTP API for people, organisations, contact points, relationships, roles and merges.

Thin: parse, check access, call a service or query, serialise.
"""

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from kith.accounts.models import Team, User
from kith.cmr import transparency
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.models import AuditEntry
from kith.core.pagination import clamp_limit, decode_cursor, encode_cursor, paginate
from kith.people import access, merging, search, services
from kith.people.models import (
    ContactPoint,
    FieldDefinition,
    Party,
    Relationship,
    RoleType,
    SavedView,
)
from kith.people.queries import (
    PartyFilters,
    apply_filters,
    count_rows,
    detail_data,
    list_rows_data,
    with_list_data,
)
from kith.people.schemas import (
    ContactPointIn,
    ContactPointOut,
    ContactPointPatch,
    DuplicateOut,
    FieldDefinitionIn,
    FieldDefinitionOut,
    MergeIn,
    MergePreviewOut,
    OrganizationIn,
    PartyFilterQuery,
    PartyOut,
    PartyPage,
    PersonIn,
    RelationshipIn,
    RelationshipOut,
    RelationshipPage,
    RelationshipPatch,
    RoleTypeIn,
    RoleTypeOut,
    SavedViewIn,
    SavedViewOut,
    contact_point_out,
    party_out,
    relationship_out,
    role_type_out,
)

router = Router(tags=["people"])


class ListQuery(PartyFilterQuery):
    cursor: str | None = None
    limit: int | None = None


# ---------------------------------------------------------------- helpers


def _owner_and_team(payload) -> tuple[User | None, Team | None]:
    owner = team = None
    if payload.owner:
        owner = User.objects.filter(username=payload.owner, kind=User.Kind.STAFF).first()
        if owner is None:
            raise ValidationFailed.single("owner", "No staff user with that username.")
    if payload.team:
        team = Team.objects.filter(name=payload.team).first()
        if team is None:
            raise ValidationFailed.single("team", "No team with that name.")
    return owner, team


def _party_input(kind: str, payload, *, creating: bool) -> services.PartyInput:
    names = services.PERSON_FIELDS if kind == Party.Kind.PERSON else services.ORGANIZATION_FIELDS
    sent = payload.model_dump(exclude_unset=True)
    fields = {k: sent[k] for k in names if k in sent}
    owner, team = _owner_and_team(payload)
    contacts = (
        [services.ContactInput(**cp.model_dump()) for cp in getattr(payload, "contact_points", [])]
        if creating
        else []
    )
    return services.PartyInput(
        kind=kind,
        fields=fields,
        contact_points=contacts,
        tags=payload.tags,
        interests=payload.interests,
        attributes=payload.attributes,
        owner=owner,
        # On an update an explicit empty owner (null or "") takes the owner away.
        clear_owner=not creating and "owner" in payload.model_fields_set and not payload.owner,
        team=team,
        visibility=payload.visibility,
    )


def _list(request: HttpRequest, kind: str, query: ListQuery) -> dict[str, Any]:
    limit = clamp_limit(query.limit)
    filters = PartyFilters(
        role=query.role,
        organization=query.organization,
        tag=query.tag,
        owner=query.owner,
        kind=kind,
    )
    qs = apply_filters(
        access.staff_scope(request.user).filter(status=Party.Status.ACTIVE),
        filters,
        user=request.user,
    )
    if query.q.strip():
        # Ranked search results page by offset: ranks are not a stable keyset.
        offset = 0
        if query.cursor:
            values = decode_cursor(query.cursor)
            offset = int(values[0]) if values and isinstance(values[0], int) else 0
        found = search.search(qs, query.q, limit=offset + limit + 1)
        page = found[offset : offset + limit]
        ids = [p.pk for p in page]
        rows = {p.pk: p for p in Party.objects.filter(pk__in=ids).select_related("owner")}
        data = list_rows_data(list(rows.values()))
        items = [party_out(rows[i], viewer=request.user, **data[i]) for i in ids]
        more = len(found) > offset + limit
        return {
            "items": items,
            "next_cursor": encode_cursor([offset + limit]) if more else None,
            # Known only on the last page: the search stops looking once a page is full.
            "count": None if more else offset + len(items),
            "count_is_estimate": False,
        }
    page = paginate(
        qs.select_related("owner"), order=("sort_name", "id"), cursor=query.cursor, limit=limit
    )
    data = list_rows_data(page.items)
    total = count_rows(qs)
    return {
        "items": [party_out(p, viewer=request.user, **data[p.pk]) for p in page.items],
        "next_cursor": page.next_cursor,
        "count": total.value,
        "count_is_estimate": total.is_estimate,
    }


def _get(request: HttpRequest, public_id: uuid.UUID, kind: str) -> dict[str, Any]:
    return _detail(access.get_party(request.user, public_id, kind=kind), request.user)


def _detail(party: Party, viewer: User) -> dict[str, Any]:
    """The detail reply of a party the access check loaded (not read a second time)."""
    if type(viewer) is User and party.owner_id is not None and party.owner_id == viewer.pk:
        # The reply names the owner: when that is the viewer, the login already loaded.
        Party.owner.field.set_cached_value(party, viewer)
    return party_out(party, all_roles=True, viewer=viewer, **detail_data(party))


def _fresh(party: Party, viewer: User) -> dict[str, Any]:
    return party_out(
        with_list_data(Party.objects.filter(pk=party.pk)).get(), all_roles=True, viewer=viewer
    )


def _created(created: services.CreatedParty) -> PartyOut:
    """The reply to a create, from the rows the service wrote: nothing is read back.

    A validated ``PartyOut``: ninja serialises it without validating it a second time
    (``kith.core.idempotency`` stores its JSON form)."""
    out = party_out(
        created.party,
        relationships=[],
        contact_points=created.contact_points,
        tags=created.tags,
    )
    return PartyOut.model_validate(out)


# ---------------------------------------------------------------- people


@router.get("/people", response=PartyPage, url_name="list_people")
def list_people(request: HttpRequest, query: Query[ListQuery]):
    """People, filtered; ``q`` searches names, e-mails, phones, handles and companies."""
    return _list(request, Party.Kind.PERSON, query)


@router.post("/people", response={201: PartyOut}, url_name="create_person")
@idempotent
def create_person(request: HttpRequest, payload: PersonIn):
    access.require_writer(request.user)
    created = services.create_party_with_rows(
        actor=request.user, data=_party_input(Party.Kind.PERSON, payload, creating=True)
    )
    return Status(201, _created(created))


@router.get("/people/{public_id}", response=PartyOut, url_name="get_person")
def get_person(request: HttpRequest, public_id: uuid.UUID):
    """A person with contact points and roles over time. A merged id answers 308 to the survivor.

    The read is in the person's transparency log; roles that must say why
    (``KITH_CMR_PURPOSE_REQUIRED_ROLES``) send ``X-Kith-Purpose`` or ``purpose``."""
    party = access.get_party(request.user, public_id, kind=Party.Kind.PERSON)
    transparency.record_read(request, party, "api")
    return _detail(party, request.user)


@router.patch("/people/{public_id}", response=PartyOut, url_name="update_person")
def update_person(request: HttpRequest, public_id: uuid.UUID, payload: PersonIn):
    party = access.get_party_for_change(request.user, public_id, kind=Party.Kind.PERSON)
    party = services.update_party(
        actor=request.user,
        party=party,
        data=_party_input(Party.Kind.PERSON, payload, creating=False),
    )
    return _fresh(party, request.user)


@router.delete("/people/{public_id}", response={204: None}, url_name="delete_person")
def delete_person(request: HttpRequest, public_id: uuid.UUID):
    party = access.get_party_for_change(request.user, public_id, kind=Party.Kind.PERSON)
    access.require_manager(request.user)
    services.delete_party(actor=request.user, party=party)
    return Status(204, None)


# ---------------------------------------------------------------- organisations


@router.get("/organizations", response=PartyPage, url_name="list_organizations")
def list_organizations(request: HttpRequest, query: Query[ListQuery]):
    return _list(request, Party.Kind.ORGANIZATION, query)


@router.post("/organizations", response={201: PartyOut}, url_name="create_organization")
@idempotent
def create_organization(request: HttpRequest, payload: OrganizationIn):
    access.require_writer(request.user)
    created = services.create_party_with_rows(
        actor=request.user, data=_party_input(Party.Kind.ORGANIZATION, payload, creating=True)
    )
    return Status(201, _created(created))


@router.get("/organizations/{public_id}", response=PartyOut, url_name="get_organization")
def get_organization(request: HttpRequest, public_id: uuid.UUID):
    return _get(request, public_id, Party.Kind.ORGANIZATION)


@router.patch("/organizations/{public_id}", response=PartyOut, url_name="update_organization")
def update_organization(request: HttpRequest, public_id: uuid.UUID, payload: OrganizationIn):
    party = access.get_party_for_change(request.user, public_id, kind=Party.Kind.ORGANIZATION)
    party = services.update_party(
        actor=request.user,
        party=party,
        data=_party_input(Party.Kind.ORGANIZATION, payload, creating=False),
    )
    return _fresh(party, request.user)


class PortalSharingIn(Schema):
    enabled: bool


class PortalSharingOut(Schema):
    enabled: bool


@router.put(
    "/organizations/{public_id}/portal-case-sharing",
    response=PortalSharingOut,
    url_name="organization_portal_sharing",
)
def set_portal_case_sharing(request: HttpRequest, public_id: uuid.UUID, payload: PortalSharingIn):
    """Whether the organisation's contacts see all its cases in the customer portal
    (admins and managers)."""
    party = access.get_party_for_change(request.user, public_id, kind=Party.Kind.ORGANIZATION)
    org = services.set_portal_case_sharing(
        actor=request.user, organization=party, enabled=payload.enabled
    )
    return {"enabled": org.portal_shares_cases}


@router.delete("/organizations/{public_id}", response={204: None}, url_name="delete_organization")
def delete_organization(request: HttpRequest, public_id: uuid.UUID):
    party = access.get_party_for_change(request.user, public_id, kind=Party.Kind.ORGANIZATION)
    access.require_manager(request.user)
    services.delete_party(actor=request.user, party=party)
    return Status(204, None)


@router.get("/organizations/{public_id}/people", response=PartyPage, url_name="organization_people")
def organization_people(request: HttpRequest, public_id: uuid.UUID, query: Query[ListQuery]):
    """People holding a role towards this organisation today (optionally one ``role``)."""
    org = access.get_party(request.user, public_id, kind=Party.Kind.ORGANIZATION)
    query.organization = str(org.public_id)
    return _list(request, Party.Kind.PERSON, query)


# ---------------------------------------------------------------- contact points


def _contact_point(request: HttpRequest, public_id: uuid.UUID, *, change: bool) -> ContactPoint:
    point = ContactPoint.objects.select_related("party").filter(public_id=public_id).first()
    if point is None:
        raise NotFound("No such contact point.")
    getter = access.get_party_for_change if change else access.get_party
    getter(request.user, point.party.public_id)
    return point


@router.get(
    "/parties/{public_id}/contact-points",
    response=list[ContactPointOut],
    url_name="list_contact_points",
)
def list_contact_points(request: HttpRequest, public_id: uuid.UUID):
    party = access.get_party(request.user, public_id)
    return [contact_point_out(cp) for cp in party.contact_points.all()]


@router.post(
    "/parties/{public_id}/contact-points",
    response={201: ContactPointOut},
    url_name="add_contact_point",
)
@idempotent
def add_contact_point(request: HttpRequest, public_id: uuid.UUID, payload: ContactPointIn):
    party = access.get_party_for_change(request.user, public_id)
    point = services.add_contact_point(
        actor=request.user, party=party, contact=services.ContactInput(**payload.model_dump())
    )
    return Status(
        201, ContactPointOut.model_validate(contact_point_out(point)).model_dump(mode="json")
    )


@router.patch(
    "/contact-points/{public_id}", response=ContactPointOut, url_name="update_contact_point"
)
def update_contact_point(request: HttpRequest, public_id: uuid.UUID, payload: ContactPointPatch):
    point = _contact_point(request, public_id, change=True)
    point = services.update_contact_point(
        actor=request.user, point=point, **payload.model_dump(exclude_unset=True)
    )
    return contact_point_out(point)


@router.delete("/contact-points/{public_id}", response={204: None}, url_name="delete_contact_point")
def delete_contact_point(request: HttpRequest, public_id: uuid.UUID):
    point = _contact_point(request, public_id, change=True)
    services.remove_contact_point(actor=request.user, point=point)
    return Status(204, None)


# ---------------------------------------------------------------- relationships


def _relationship(request: HttpRequest, public_id: uuid.UUID, *, change: bool) -> Relationship:
    rel = (
        Relationship.objects.select_related("subject", "object", "role")
        .filter(public_id=public_id)
        .first()
    )
    if rel is None:
        raise NotFound("No such relationship.")
    getter = access.get_party_for_change if change else access.get_party
    getter(request.user, rel.subject.public_id)
    if rel.object_id is not None and not access.is_visible(request.user, rel.object):
        # Not listed for this user (it names a record they may not see): not found either.
        raise NotFound("No such relationship.")
    return rel


class RelationshipQuery(Schema):
    role: str = ""
    current: bool | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get(
    "/parties/{public_id}/relationships", response=RelationshipPage, url_name="list_relationships"
)
def list_relationships(request: HttpRequest, public_id: uuid.UUID, query: Query[RelationshipQuery]):
    """Roles this party holds and roles held towards it, past and present."""
    from django.db.models import Q

    party = access.get_party(request.user, public_id)
    visible = access.staff_scope(request.user).values("pk")
    qs = (
        Relationship.objects.filter(Q(subject=party) | Q(object=party))
        .filter(subject__in=visible)
        # A role towards a record the user may not see must not name it.
        .filter(Q(object__isnull=True) | Q(object__in=visible))
        .select_related("subject", "object", "role")
    )
    if query.role:
        qs = qs.filter(role__slug=query.role)
    if query.current is True:
        qs = qs.current()
    page = paginate(
        qs, order=("-created_at", "-id"), cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {"items": [relationship_out(r) for r in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/parties/{public_id}/relationships",
    response={201: RelationshipOut},
    url_name="add_relationship",
)
@idempotent
def add_relationship(request: HttpRequest, public_id: uuid.UUID, payload: RelationshipIn):
    subject = access.get_party_for_change(request.user, public_id)
    obj = access.get_party(request.user, payload.object) if payload.object else None
    rel = services.add_relationship(
        actor=request.user,
        subject=subject,
        role=payload.role,
        object=obj,
        valid_from=payload.valid_from,
        valid_to=payload.valid_to,
        note=payload.note,
    )
    return Status(
        201, RelationshipOut.model_validate(relationship_out(rel)).model_dump(mode="json")
    )


@router.patch(
    "/relationships/{public_id}", response=RelationshipOut, url_name="update_relationship"
)
def update_relationship(request: HttpRequest, public_id: uuid.UUID, payload: RelationshipPatch):
    rel = _relationship(request, public_id, change=True)
    sent = payload.model_dump(exclude_unset=True)
    rel = services.update_relationship(
        actor=request.user,
        relationship=rel,
        valid_from=sent.get("valid_from", ...),
        valid_to=sent.get("valid_to", ...),
        note=sent.get("note"),
    )
    return relationship_out(rel)


@router.delete("/relationships/{public_id}", response={204: None}, url_name="delete_relationship")
def delete_relationship(request: HttpRequest, public_id: uuid.UUID):
    rel = _relationship(request, public_id, change=True)
    services.delete_relationship(actor=request.user, relationship=rel)
    return Status(204, None)


# ---------------------------------------------------------------- vocabulary, custom fields, saved views


@router.get("/roles", response=list[RoleTypeOut], url_name="list_roles")
def list_roles(request: HttpRequest):
    access.require_staff(request.user)
    return [role_type_out(r) for r in RoleType.objects.filter(active=True)]


@router.post("/roles", response={201: RoleTypeOut}, url_name="create_role")
@idempotent
def create_role(request: HttpRequest, payload: RoleTypeIn):
    access.require_manager(request.user)
    role = services.create_role_type(actor=request.user, **payload.model_dump())
    return Status(201, RoleTypeOut.model_validate(role_type_out(role)).model_dump(mode="json"))


def _field_out(d: FieldDefinition) -> dict[str, Any]:
    return {
        "id": d.public_id,
        "key": d.key,
        "label": d.label,
        "type": d.type,
        "choices": d.choices,
        "required": d.required,
        "applies_to": d.applies_to,
    }


@router.get("/fields", response=list[FieldDefinitionOut], url_name="list_fields")
def list_fields(request: HttpRequest):
    access.require_staff(request.user)
    return [_field_out(d) for d in FieldDefinition.objects.all()]


@router.post("/fields", response={201: FieldDefinitionOut}, url_name="create_field")
@idempotent
def create_field(request: HttpRequest, payload: FieldDefinitionIn):
    access.require_admin(request.user)
    definition = services.define_field(actor=request.user, **payload.model_dump())
    return Status(
        201, FieldDefinitionOut.model_validate(_field_out(definition)).model_dump(mode="json")
    )


@router.get("/saved-views", response=list[SavedViewOut], url_name="list_saved_views")
def list_saved_views(request: HttpRequest):
    access.require_staff(request.user)
    return [
        {"id": v.public_id, "name": v.name, "filters": v.filters}
        for v in SavedView.objects.filter(user=request.user)
    ]


@router.post("/saved-views", response={201: SavedViewOut}, url_name="create_saved_view")
def create_saved_view(request: HttpRequest, payload: SavedViewIn):
    access.require_staff(request.user)
    view = services.save_view(actor=request.user, name=payload.name, filters=payload.filters)
    return Status(201, {"id": view.public_id, "name": view.name, "filters": view.filters})


# ---------------------------------------------------------------- duplicates and merge


@router.get(
    "/parties/{public_id}/duplicates", response=list[DuplicateOut], url_name="party_duplicates"
)
def party_duplicates(request: HttpRequest, public_id: uuid.UUID):
    """Likely duplicates of this record: same e-mail/phone/handle or a close name."""
    party = access.get_party(request.user, public_id)
    found = merging.duplicates_of(party, scope=access.staff_scope(request.user))
    return [
        {
            "id": s.party.public_id,
            "display_name": s.party.display_name,
            "reason": s.reason,
            "score": s.score,
        }
        for s in found
    ]


def _merge_pair(
    request: HttpRequest, public_id: uuid.UUID, absorb_id: uuid.UUID
) -> tuple[Party, Party]:
    keep = access.get_party_for_change(request.user, public_id)
    absorb = access.get_party_for_change(request.user, absorb_id)
    return keep, absorb


def _preview_out(plan: merging.MergePreview) -> dict[str, Any]:
    return {
        "keep": plan.keep.public_id,
        "absorb": plan.absorb.public_id,
        "fields": [f.__dict__ for f in plan.fields],
        "conflicts": [f.field for f in plan.conflicts],
        "moves": plan.moves,
        "result": plan.result,
        "blockers": plan.blockers,
    }


@router.get(
    "/parties/{public_id}/merge-preview", response=MergePreviewOut, url_name="merge_preview"
)
def merge_preview(request: HttpRequest, public_id: uuid.UUID, absorb: uuid.UUID):
    """What merging ``absorb`` into this record would do, with every conflicting field."""
    keep, other = _merge_pair(request, public_id, absorb)
    return _preview_out(merging.preview(keep=keep, absorb=other))


@router.post("/parties/{public_id}/merge", response=PartyOut, url_name="merge")
def merge(request: HttpRequest, public_id: uuid.UUID, payload: MergeIn):
    """Merge ``absorb`` into this record; ``choices`` picks per conflicting field."""
    keep, other = _merge_pair(request, public_id, payload.absorb)
    survivor = merging.merge(actor=request.user, keep=keep, absorb=other, choices=payload.choices)
    return _fresh(survivor, request.user)


# ---------------------------------------------------------------- audit trail


class AuditEntryOut(Schema):
    occurred_at: dt.datetime
    actor: str
    channel: str
    action: str
    object_type: str
    object_id: uuid.UUID | None
    object_label: str
    changes: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next_cursor: str | None


@router.get("/parties/{public_id}/audit", response=AuditPage, url_name="party_audit")
def party_audit(
    request: HttpRequest, public_id: uuid.UUID, cursor: str | None = None, limit: int | None = None
):
    """Who changed what about this person or organisation, from which channel, newest first."""
    party = access.get_party(request.user, public_id)
    qs = AuditEntry.objects.filter(party_id=party.pk).select_related("object_type")
    page = paginate(qs, order=("-occurred_at", "-id"), cursor=cursor, limit=clamp_limit(limit))
    return {
        "items": [
            {
                "occurred_at": e.occurred_at,
                "actor": e.actor_label,
                "channel": e.channel,
                "action": e.action,
                "object_type": e.object_type.model,
                "object_id": e.object_public_id,
                "object_label": e.object_label,
                "changes": e.changes,
            }
            for e in page.items
        ],
        "next_cursor": page.next_cursor,
    }


# Identity resolution endpoints register on this router (kept in their own module).
from kith.people.identity import api as _identity_api  # noqa: E402, F401
