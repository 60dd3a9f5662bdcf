"""Business rules for people and organisations: every write goes through here.

Each public function is keyword-only, runs in one transaction, writes an audit entry
and queues domain events. Views, the API, imports and tasks all call these, so the
rules cannot drift between channels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any

from django.db import IntegrityError, connection, transaction

from kith.accounts import assignment
from kith.core import audit, events, timezones, trash
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.core.models import TrashItem
from kith.core.prepared import insert_many, select_in
from kith.people import search
from kith.people.models import (
    ContactPoint,
    FieldDefinition,
    Party,
    Relationship,
    RoleType,
    SavedView,
    Tag,
    Visibility,
)
from kith.people.normalize import (
    InvalidContactPoint,
    clean_attributes,
    display_value,
    normalize_contact,
    phone_region,
)

PERSON_FIELDS = (
    "given_name",
    "family_name",
    "display_name",
    "title",
    "locale",
    "timezone",
    "birthday",
    "notes",
)
ORGANIZATION_FIELDS = ("display_name", "legal_name", "industry", "locale", "timezone", "notes")
MAX_LENGTHS = {
    "given_name": 150,
    "family_name": 150,
    "display_name": 300,
    "title": 150,
    "legal_name": 300,
    "industry": 120,
    "locale": 20,
    "timezone": 64,
    "notes": 20000,
}


@dataclass
class ContactInput:
    channel: str
    value: str
    label: str = ""
    primary: bool = False
    verified: bool = False


@dataclass
class PartyInput:
    """Everything a create or update may carry; ``None`` means "leave as is" on update."""

    kind: str = Party.Kind.PERSON
    fields: dict[str, Any] = field(default_factory=dict)
    contact_points: list[ContactInput] = field(default_factory=list)
    tags: list[str] | None = None
    interests: list[str] | None = None
    attributes: dict[str, Any] | None = None
    owner: Any = None
    # True takes the owner away (``owner`` None only means "leave as is"); the hand-over
    # rules allow it to admins and managers.
    clear_owner: bool = False
    team: Any = None
    visibility: str | None = None


# ---------------------------------------------------------------- validation helpers


def _validate_fields(
    kind: str, data: dict[str, Any], *, creating: bool
) -> tuple[dict, list[FieldError]]:
    allowed = PERSON_FIELDS if kind == Party.Kind.PERSON else ORGANIZATION_FIELDS
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in data.items():
        if key not in allowed:
            errors.append(FieldError(key, "Unknown field."))
            continue
        if key == "birthday":
            if value in (None, ""):
                cleaned[key] = None
            elif isinstance(value, dt.date):
                cleaned[key] = value
            else:
                try:
                    cleaned[key] = dt.date.fromisoformat(str(value))
                except ValueError:
                    errors.append(FieldError(key, "Must be a date as YYYY-MM-DD."))
            continue
        text = "" if value is None else str(value).strip()
        if len(text) > MAX_LENGTHS.get(key, 300):
            errors.append(FieldError(key, f"At most {MAX_LENGTHS.get(key, 300)} characters."))
            continue
        if key == "timezone" and text and not timezones.is_valid(text):
            errors.append(FieldError(key, "Unknown time zone; use a name such as Europe/Berlin."))
            continue
        cleaned[key] = text
    if creating:
        if kind == Party.Kind.PERSON:
            if not (
                cleaned.get("display_name")
                or cleaned.get("given_name")
                or cleaned.get("family_name")
            ):
                errors.append(FieldError("given_name", "A person needs a name."))
        elif not cleaned.get("display_name"):
            errors.append(FieldError("display_name", "An organisation needs a name."))
    return cleaned, errors


def _actor_locale(actor) -> str:
    person = getattr(actor, "person", None) if actor is not None else None
    return getattr(person, "locale", "") or ""


def _validate_contacts(
    contacts: Iterable[ContactInput],
    *,
    prefix: str = "contact_points",
    region: str | None = None,
) -> tuple[list[tuple[ContactInput, str, str]], list[FieldError]]:
    out: list[tuple[ContactInput, str, str]] = []
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for index, contact in enumerate(contacts):
        try:
            channel, normalized = normalize_contact(contact.channel, contact.value, region=region)
        except InvalidContactPoint as exc:
            errors.append(FieldError(f"{prefix}[{index}].value", str(exc)))
            continue
        if (channel, normalized) in seen:
            continue
        seen.add((channel, normalized))
        out.append((contact, channel, normalized))
    return out, errors


_DEFINITION_COLUMNS = tuple(f.column for f in FieldDefinition._meta.concrete_fields)
_definitions_cache: tuple[list[tuple], dict[str, FieldDefinition]] = ([], {})


def _field_definitions() -> dict[str, FieldDefinition]:
    """The custom field definitions by key, read fresh on every call.

    The rows are read with one plain statement and compared with the last rows this
    process saw; only when they differ are model objects built again. That is what
    ``FieldDefinition.objects.all()`` spent most of its time on (compiling the query,
    building the objects), on every create and update. Never stale: the rows are
    always read, so a definition changed by another process or rolled back counts.
    Callers must not change the objects handed back.
    """
    global _definitions_cache
    table = connection.ops.quote_name(FieldDefinition._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _DEFINITION_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY id")  # noqa: S608 - names only
        rows = cursor.fetchall()
    cached_rows, cached = _definitions_cache
    if rows != cached_rows:
        # from_db applies each field's converters (JSON choices) as a query would.
        objects = FieldDefinition.objects.raw(
            f"SELECT {columns} FROM {table} ORDER BY id"  # noqa: S608 - names only
        )
        cached = {d.key: d for d in objects}
        _definitions_cache = (rows, cached)
    return cached


def _validate_tags(tags: Iterable[str]) -> tuple[list[str], list[FieldError]]:
    names, errors = [], []
    seen: set[str] = set()  # linear: a set kept as we go, not rebuilt per tag
    for tag in tags:
        name = " ".join(str(tag).split())
        if not name:
            continue
        if len(name) > 60:
            errors.append(FieldError("tags", f"Tag '{name[:20]}…' is longer than 60 characters."))
            continue
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names, errors


def _validate_visibility(value: str | None, team) -> list[FieldError]:
    if value is None:
        return []
    if value not in Visibility.values:
        return [FieldError("visibility", f"Must be one of: {', '.join(Visibility.values)}.")]
    if value == Visibility.TEAM and team is None:
        return [FieldError("team", "A record visible to a team needs a team.")]
    return []


def _conflicting_contacts(
    pairs: list[tuple[str, str]], *, exclude_party: Party | None = None
) -> list[ContactPoint]:
    wanted = {(c, n) for c, n in pairs if c != ContactPoint.POSTAL}
    if not wanted:
        return []
    # One IN over the indexed normalised values, the channel and party compared here:
    # an OR of (channel, value) pairs cost more to build in the ORM than the query took
    # to run, on every create; the IN itself is a prepared statement (kith.core.prepared).
    # The party is read only for a clash, which is rare.
    found = select_in(ContactPoint, "normalized", sorted({n for _, n in wanted}))
    if exclude_party is not None:
        found = [cp for cp in found if cp.party_id != exclude_party.pk]
    # Meta.ordering applied in Python: the SQL ORDER BY cost more to build than to run.
    return sorted(
        (cp for cp in found if (cp.channel, cp.normalized) in wanted), key=ContactPoint.sort_key
    )


def _taken_message(actor, point: ContactPoint) -> str:
    """Name the record holding a contact point only to someone allowed to see it."""
    from kith.people.access import scope_parties

    if actor is None or scope_parties(actor, Party.objects.filter(pk=point.party_id)).exists():
        return f"Already belongs to {point.party.display_name} ({point.party.public_id})."
    return "Already belongs to another record you cannot see."


def _set_tags(party: Party, names: list[str], *, new_party: bool = False) -> list[Tag]:
    existing = {t.name.casefold(): t for t in select_in(Tag, "name", list(names))}
    tags = []
    for name in names:
        tag = existing.get(name.casefold())
        if tag is None:
            tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        tags.append(tag)
    if new_party:
        # Nothing to compare with: write the links in one INSERT (``set`` reads first).
        through = Party.tags.through
        insert_many([through(party_id=party.pk, tag_id=t.pk) for t in tags], ids=False)
    else:
        party.tags.set(tags)
    return tags


def _snapshot(party: Party) -> dict[str, Any]:
    data = {name: getattr(party, name) for name in (*PERSON_FIELDS, *ORGANIZATION_FIELDS)}
    data.update(
        interests=list(party.interests),
        attributes=dict(party.attributes),
        visibility=party.visibility,
        owner=party.owner_id,
        team=party.team_id,
    )
    return data


def _event_name(party: Party, action: str) -> str:
    return f"{'person' if party.kind == Party.Kind.PERSON else 'organization'}.{action}"


# ---------------------------------------------------------------- parties


@dataclass
class CreatedParty:
    """A new party with the contact points and tags written with it."""

    party: Party
    contact_points: list[ContactPoint]
    tags: list[Tag]


def create_party(*, actor, data: PartyInput) -> Party:
    """Create a person or organisation with its contact points, tags and attributes."""
    return create_party_with_rows(actor=actor, data=data).party


def create_party_with_rows(*, actor, data: PartyInput) -> CreatedParty:
    """:func:`create_party`, also handing back the rows it wrote, for a reply that
    shows the new record without reading it back."""
    if data.kind not in Party.Kind.values:
        raise ValidationFailed.single("kind", "Must be person or organization.")
    cleaned, errors = _validate_fields(data.kind, data.fields, creating=True)
    # National numbers read in the record's country, else the user's (their locales).
    region = phone_region(data.fields.get("locale"), _actor_locale(actor))
    contacts, contact_errors = _validate_contacts(data.contact_points, region=region)
    errors += contact_errors
    tags, tag_errors = _validate_tags(data.tags or [])
    errors += tag_errors
    attributes, attr_errors = clean_attributes(
        _field_definitions(), data.attributes or {}, kind=data.kind
    )
    errors += attr_errors
    errors += _validate_visibility(data.visibility, data.team)
    # Who may hand the record to whom (kith.accounts.assignment): before any write.
    assignment.check_record_hand_over(
        actor,
        owner=data.owner if data.owner is not None else ...,
        team=data.team if data.team is not None else ...,
        visibility=data.visibility,
        creating=True,
    )
    interests = _clean_interests(data.interests or [], errors)
    errors += _taken_errors(actor, contacts, list(data.contact_points))
    if errors:
        raise ValidationFailed(errors=errors)
    try:
        with transaction.atomic():
            party = Party(kind=data.kind, interests=interests, attributes=attributes, **cleaned)
            party.owner = (
                data.owner
                if data.owner is not None
                else (actor if getattr(actor, "pk", None) else None)
            )
            party.team = data.team
            party.visibility = data.visibility or Visibility.EVERYONE
            party.search_text = search.document_of_new(party, [(c, n) for _, c, n in contacts])
            party.insert()
            created = _add_contacts(party, contacts, new_party=True)
            tag_rows = _set_tags(party, tags, new_party=True) if tags else []
            search.index_new([(party.pk, party.search_text)])
            audit.record(
                actor=actor,
                action=_event_name(party, "created"),
                obj=party,
                changes=_snapshot(party),
                party_id=party.pk,
            )
            events.emit(
                _event_name(party, "created"),
                obj=party,
                actor=actor,
                data={"display_name": party.display_name},
            )
    except IntegrityError as exc:
        # Two requests raced for the same e-mail/phone; the loser gets a clear 409. (Not
        # a 422 naming the winner: callers without an actor, such as a portal sign-up,
        # must not learn whose record it is, and tell the race apart by this 409.)
        raise Conflict(
            "A contact point was taken by another record at the same moment; retry."
        ) from exc
    return CreatedParty(party, created, tag_rows)


def _taken_errors(
    actor, contacts: list[tuple[ContactInput, str, str]], sent: list[ContactInput]
) -> list[FieldError]:
    """One error per contact point of a new record that another record already holds,
    at its index in what the client ``sent`` (invalid and repeated points left out of
    ``contacts`` do not shift it)."""
    errors = []
    for cp in _conflicting_contacts([(c, n) for _, c, n in contacts]):
        contact = next(x for x, c, n in contacts if (c, n) == (cp.channel, cp.normalized))
        index = next(i for i, x in enumerate(sent) if x is contact)
        errors.append(FieldError(f"contact_points[{index}].value", _taken_message(actor, cp)))
    return errors


def _clean_interests(raw: Iterable[str], errors: list[FieldError]) -> list[str]:
    interests: list[str] = []
    seen: set[str] = set()
    for item in raw:
        text = " ".join(str(item).split())
        if len(text) > 80:
            errors.append(FieldError("interests", "Each interest is at most 80 characters."))
        elif text and text.casefold() not in seen:
            seen.add(text.casefold())
            interests.append(text)
    return interests


def _add_contacts(
    party: Party, contacts: list[tuple[ContactInput, str, str]], *, new_party: bool = False
) -> list[ContactPoint]:
    has_primary: set[str] = set()
    if not new_party:
        has_primary.update(
            ContactPoint.objects.filter(party=party, primary=True).values_list("channel", flat=True)
        )
    created = []
    for contact, channel, normalized in contacts:
        primary = contact.primary or channel not in has_primary
        if primary and channel in has_primary:
            if new_party:
                # A later point of the same channel asked to be primary: not the earlier.
                for earlier in created:
                    if earlier.channel == channel:
                        earlier.primary = False
            else:
                ContactPoint.objects.filter(party=party, channel=channel, primary=True).update(
                    primary=False
                )
        has_primary.add(channel)
        created.append(
            ContactPoint(
                party=party,
                channel=channel,
                value=display_value(channel, contact.value),
                normalized=normalized,
                label=contact.label[:40],
                primary=primary,
                verified=contact.verified,
            )
        )
    # One prepared INSERT for all of them (both databases hand the new ids back).
    return insert_many(created)


def update_party(*, actor, party: Party, data: PartyInput) -> Party:
    """Change fields, tags, interests, attributes or visibility of ``party``."""
    cleaned, errors = _validate_fields(party.kind, data.fields, creating=False)
    if (
        "display_name" in cleaned
        and not cleaned["display_name"]
        and party.kind == Party.Kind.ORGANIZATION
    ):
        errors.append(FieldError("display_name", "An organisation needs a name."))
    tags = None
    if data.tags is not None:
        tags, tag_errors = _validate_tags(data.tags)
        errors += tag_errors
    attributes = None
    if data.attributes is not None:
        attributes, attr_errors = clean_attributes(
            _field_definitions(), data.attributes, kind=party.kind
        )
        errors += attr_errors
    interests = _clean_interests(data.interests, errors) if data.interests is not None else None
    team = data.team if data.team is not None else party.team
    errors += _validate_visibility(data.visibility, team)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        party = Party.objects.select_for_update().get(pk=party.pk)
        # Only changes are checked: a form re-sending today's owner or team is no hand-over.
        owner_changes = data.owner is not None and data.owner.pk != party.owner_id
        owner_cleared = data.owner is None and data.clear_owner and party.owner_id is not None
        team_changes = data.team is not None and data.team.pk != party.team_id
        assignment.check_record_hand_over(
            actor,
            owner=data.owner if owner_changes else None if owner_cleared else ...,
            team=data.team if team_changes else ...,
            visibility=data.visibility if data.visibility != party.visibility else None,
            current_owner_id=party.owner_id,
            creating=False,
        )
        before = _snapshot(party)
        for key, value in cleaned.items():
            setattr(party, key, value)
        if (
            party.kind == Party.Kind.PERSON
            and ("given_name" in cleaned or "family_name" in cleaned)
            and "display_name" not in cleaned
        ):
            party.display_name = (
                " ".join(p for p in (party.given_name, party.family_name) if p)
                or party.display_name
            )
        if not party.display_name:
            raise ValidationFailed.single("display_name", "A name is required.")
        if interests is not None:
            party.interests = interests
        if attributes is not None:
            party.attributes = attributes
        if data.visibility is not None:
            party.visibility = data.visibility
        if data.team is not None:
            party.team = data.team
        if data.owner is not None:
            party.owner = data.owner
        elif owner_cleared:
            party.owner = None
        party.save()
        if tags is not None:
            _set_tags(party, tags)
        changes = audit.diff(before, _snapshot(party))
        search.reindex([party.pk])
        if changes or tags is not None:
            audit.record(
                actor=actor,
                action=_event_name(party, "updated"),
                obj=party,
                changes=changes,
                party_id=party.pk,
            )
            events.emit(
                _event_name(party, "updated"),
                obj=party,
                actor=actor,
                data={"changed": sorted(changes)},
            )
    return party


def delete_party(*, actor, party: Party) -> TrashItem:
    """Delete a party and everything that hangs off it (admins and managers only).

    A customer's portal login must have its person (a database constraint): deleting that
    person is a 409 that says so, not a 500 from the constraint. The party and the rows
    its delete takes along go to the trash first (restorable, see kith.core.trash).
    """
    from kith.accounts.models import User

    with transaction.atomic():
        login = User.objects.filter(person=party, kind=User.Kind.PORTAL).first()
        if login is not None:
            raise Conflict(
                f"{party.display_name} has a portal login ({login.get_username()}); "
                "remove or erase the login first."
            )
        audit.record(
            actor=actor,
            action=_event_name(party, "deleted"),
            obj=party,
            changes={"display_name": [party.display_name, None]},
            party_id=party.pk,
        )
        events.emit(
            _event_name(party, "deleted"),
            obj=party,
            actor=actor,
            data={"display_name": party.display_name},
        )
        item = trash.put(
            actor=actor,
            kind="person" if party.kind == Party.Kind.PERSON else "organization",
            obj=party,
            label=party.display_name,
            party_id=party.pk,
        )
        search.remove([party.pk])
        party.delete()
    return item


# ---------------------------------------------------------------- contact points


def add_contact_point(*, actor, party: Party, contact: ContactInput) -> ContactPoint:
    region = phone_region(party.locale, _actor_locale(actor))
    contacts, errors = _validate_contacts([contact], prefix="contact", region=region)
    if errors:
        raise ValidationFailed(errors=[FieldError("value", e.message) for e in errors])
    _, channel, normalized = contacts[0]
    for cp in _conflicting_contacts([(channel, normalized)]):
        if cp.party_id == party.pk:
            raise ValidationFailed.single("value", "This record already has that contact point.")
        raise ValidationFailed.single("value", _taken_message(actor, cp))
    try:
        with transaction.atomic():
            (point,) = _add_contacts(party, contacts)
            search.reindex([party.pk])
            audit.record(
                actor=actor,
                action="contact_point.added",
                obj=point,
                changes={"channel": channel, "value": point.value},
                party_id=party.pk,
            )
            events.emit(
                "contact_point.added",
                obj=point,
                actor=actor,
                data={"party": str(party.public_id), "channel": channel},
            )
    except IntegrityError as exc:
        raise Conflict(
            "That contact point was taken by another record at the same moment."
        ) from exc
    return point


def update_contact_point(
    *,
    actor,
    point: ContactPoint,
    value: str | None = None,
    label: str | None = None,
    primary: bool | None = None,
    verified: bool | None = None,
) -> ContactPoint:
    with transaction.atomic():
        point = ContactPoint.objects.select_for_update().get(pk=point.pk)
        before = {
            "value": point.value,
            "label": point.label,
            "primary": point.primary,
            "verified": point.verified,
        }
        if value is not None:
            try:
                _, normalized = normalize_contact(
                    point.channel,
                    value,
                    region=phone_region(point.party.locale, _actor_locale(actor)),
                )
            except InvalidContactPoint as exc:
                raise ValidationFailed.single("value", str(exc)) from exc
            if normalized != point.normalized:
                clash = _conflicting_contacts([(point.channel, normalized)], exclude_party=None)
                if any(cp.pk != point.pk for cp in clash):
                    raise ValidationFailed.single("value", "Already belongs to another record.")
                point.verified = False
            point.value, point.normalized = display_value(point.channel, value), normalized
        if label is not None:
            point.label = label[:40]
        if verified is not None:
            point.verified = verified
        if primary:
            ContactPoint.objects.filter(party_id=point.party_id, channel=point.channel).exclude(
                pk=point.pk
            ).update(primary=False)
            point.primary = True
        point.save()
        after = {
            "value": point.value,
            "label": point.label,
            "primary": point.primary,
            "verified": point.verified,
        }
        search.reindex([point.party_id])
        audit.record(
            actor=actor,
            action="contact_point.updated",
            obj=point,
            changes=audit.diff(before, after),
            party_id=point.party_id,
        )
        events.emit("contact_point.updated", obj=point, actor=actor)
    return point


def remove_contact_point(*, actor, point: ContactPoint) -> None:
    with transaction.atomic():
        party_id = point.party_id
        audit.record(
            actor=actor,
            action="contact_point.removed",
            obj=point,
            changes={"channel": point.channel, "value": point.value},
            party_id=party_id,
        )
        events.emit("contact_point.removed", obj=point, actor=actor)
        was_primary, channel = point.primary, point.channel
        point.delete()
        if was_primary:
            successor = (
                ContactPoint.objects.filter(party_id=party_id, channel=channel)
                .order_by("id")
                .first()
            )
            if successor:
                ContactPoint.objects.filter(pk=successor.pk).update(primary=True)
        search.reindex([party_id])


# ---------------------------------------------------------------- relationships


def _lock_party(party: Party | int) -> None:
    """Lock ``party``'s row until the end of the caller's transaction."""
    pk = party if isinstance(party, int) else party.pk
    list(Party.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


def _role(role: RoleType | str) -> RoleType:
    if isinstance(role, RoleType):
        return role
    found = RoleType.objects.filter(slug=role, active=True).first()
    if found is None:
        raise ValidationFailed.single("role", f"Unknown role '{role}'.")
    return found


def _check_relationship(
    subject: Party, role: RoleType, obj: Party | None, valid_from, valid_to
) -> None:
    errors = []
    if role.applies_to not in ("any", subject.kind):
        errors.append(
            FieldError(
                "role",
                f"The role {role.name} applies to {role.get_applies_to_display().lower()} only.",
            )
        )
    if obj is not None and obj.pk == subject.pk:
        errors.append(FieldError("object", "A party cannot hold a role towards itself."))
    if obj is not None and obj.status != Party.Status.ACTIVE:
        errors.append(FieldError("object", "That record was merged or erased."))
    if valid_from and valid_to and valid_to < valid_from:
        errors.append(FieldError("valid_to", "Must be on or after valid_from."))
    if errors:
        raise ValidationFailed(errors=errors)


def add_relationship(
    *,
    actor,
    subject: Party,
    role: RoleType | str,
    object: Party | None = None,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
    note: str = "",
) -> Relationship:
    """``subject`` takes ``role`` towards ``object`` (or towards us) for the given dates."""
    role = _role(role)
    _check_relationship(subject, role, object, valid_from, valid_to)
    with transaction.atomic():
        # The overlap check reads other rows: the subject's lock serialises two adds (or
        # an add and a date change) of its roles, so both cannot pass the check.
        _lock_party(subject)
        overlapping = Relationship.objects.filter(subject=subject, role=role, object=object)
        overlapping = overlapping.overlapping(valid_from or dt.date.min, valid_to or dt.date.max)
        if overlapping.exists():
            raise ValidationFailed.single(
                "role", f"{subject.display_name} already holds this role for an overlapping period."
            )
        rel = Relationship.objects.create(
            subject=subject,
            role=role,
            object=object,
            valid_from=valid_from,
            valid_to=valid_to,
            note=note[:300],
        )
        search.reindex([subject.pk])
        data = _relationship_data(rel)
        audit.record(
            actor=actor, action="relationship.created", obj=rel, changes=data, party_id=subject.pk
        )
        events.emit("relationship.created", obj=rel, actor=actor, data=data)
    return rel


def _relationship_data(rel: Relationship) -> dict[str, Any]:
    return {
        "subject": str(rel.subject.public_id),
        "subject_name": rel.subject.display_name,
        "role": rel.role.slug,
        "role_name": rel.role.name,
        "object": str(rel.object.public_id) if rel.object_id else None,
        "object_name": rel.object.display_name if rel.object_id else None,
        "valid_from": rel.valid_from,
        "valid_to": rel.valid_to,
    }


def update_relationship(
    *,
    actor,
    relationship: Relationship,
    valid_from: dt.date | EllipsisType | None = ...,
    valid_to: dt.date | EllipsisType | None = ...,
    note: str | None = None,
) -> Relationship:
    """Change the dates or note of a relationship (``...`` leaves a date as it is)."""
    with transaction.atomic():
        # The subject first (as ``add_relationship`` does): the overlap check below reads
        # the subject's other roles, which a concurrent add or change could alter.
        _lock_party(relationship.subject_id)
        rel = (
            Relationship.objects.select_for_update(of=("self",))
            .select_related("subject", "object", "role")
            .get(pk=relationship.pk)
        )
        before = _relationship_data(rel)
        if valid_from is not ...:
            rel.valid_from = valid_from
        if valid_to is not ...:
            rel.valid_to = valid_to
        if note is not None:
            rel.note = note[:300]
        _check_relationship(rel.subject, rel.role, rel.object, rel.valid_from, rel.valid_to)
        clash = Relationship.objects.filter(
            subject=rel.subject, role=rel.role, object=rel.object
        ).exclude(pk=rel.pk)
        if clash.overlapping(rel.valid_from or dt.date.min, rel.valid_to or dt.date.max).exists():
            raise ValidationFailed.single("valid_from", "Overlaps another period of the same role.")
        rel.save()
        after = _relationship_data(rel)
        audit.record(
            actor=actor,
            action="relationship.updated",
            obj=rel,
            changes=audit.diff(before, after),
            party_id=rel.subject_id,
        )
        name = (
            "relationship.ended"
            if before["valid_to"] != after["valid_to"] and rel.valid_to
            else "relationship.updated"
        )
        events.emit(name, obj=rel, actor=actor, data=after)
        # The search document names a person's current organisations; dates decide that.
        search.reindex([rel.subject_id])
    return rel


def end_relationship(*, actor, relationship: Relationship, on: dt.date) -> Relationship:
    """Close a role on ``on`` (the last day it held)."""
    return update_relationship(actor=actor, relationship=relationship, valid_to=on)


def delete_relationship(*, actor, relationship: Relationship) -> None:
    """Remove a relationship entered by mistake (ending it keeps history; this does not)."""
    with transaction.atomic():
        data = _relationship_data(relationship)
        audit.record(
            actor=actor,
            action="relationship.deleted",
            obj=relationship,
            changes=data,
            party_id=relationship.subject_id,
        )
        events.emit("relationship.deleted", obj=relationship, actor=actor, data=data)
        relationship.delete()
        search.reindex([relationship.subject_id])


# ---------------------------------------------------------------- vocabulary and custom fields


def create_role_type(
    *,
    actor,
    slug: str,
    name: str,
    object_label: str = "",
    applies_to: str = "any",
    description: str = "",
) -> RoleType:
    from django.utils.text import slugify

    slug = slugify(slug or name)
    errors = []
    if not slug:
        errors.append(FieldError("slug", "This field is required."))
    elif RoleType.objects.filter(slug=slug).exists():
        errors.append(FieldError("slug", "A role with this slug exists."))
    if not name.strip():
        errors.append(FieldError("name", "This field is required."))
    if applies_to not in RoleType.AppliesTo.values:
        errors.append(FieldError("applies_to", "Must be person, organization or any."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        role = RoleType.objects.create(
            slug=slug,
            name=name.strip()[:80],
            object_label=object_label[:80],
            applies_to=applies_to,
            description=description[:300],
        )
        audit.record(
            actor=actor, action="role_type.created", obj=role, changes={"slug": slug, "name": name}
        )
    return role


def define_field(
    *,
    actor,
    key: str,
    label: str,
    type: str = "text",
    choices: list[str] | None = None,
    required: bool = False,
    applies_to: str = "person",
) -> FieldDefinition:
    from django.utils.text import slugify

    key = slugify(key).replace("-", "_")
    errors = []
    if not key:
        errors.append(FieldError("key", "This field is required."))
    elif FieldDefinition.objects.filter(key=key).exists():
        errors.append(FieldError("key", "A field with this key exists."))
    if type not in FieldDefinition.Type.values:
        errors.append(
            FieldError("type", f"Must be one of: {', '.join(FieldDefinition.Type.values)}.")
        )
    if type == "choice" and not choices:
        errors.append(FieldError("choices", "A choice field needs choices."))
    if applies_to not in RoleType.AppliesTo.values:
        errors.append(FieldError("applies_to", "Must be person, organization or any."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        definition = FieldDefinition.objects.create(
            key=key,
            label=label.strip()[:120] or key,
            type=type,
            choices=list(choices or []),
            required=required,
            applies_to=applies_to,
        )
        audit.record(
            actor=actor,
            action="field_definition.created",
            obj=definition,
            changes={"key": key, "type": type},
        )
    return definition


def save_view(*, actor, name: str, filters: dict[str, Any], list_name: str = "people") -> SavedView:
    name = " ".join(name.split())[:120]
    if not name:
        raise ValidationFailed.single("name", "This field is required.")
    allowed = {"q", "role", "organization", "tag", "kind", "owner", "channel"}
    clean = {k: v for k, v in filters.items() if k in allowed and v not in (None, "")}
    view, _ = SavedView.objects.update_or_create(
        user=actor, list_name=list_name, name=name, defaults={"filters": clean}
    )
    return view


# ---------------------------------------------------------------- customer portal settings


def set_portal_case_sharing(*, actor, organization: Party, enabled: bool) -> Party:
    """Let (or stop letting) an organisation's contacts see all its cases in the portal.

    Admins and managers only: it widens what customers see. Locked read-modify-write,
    audited, and announced as ``organization.portal_sharing_changed``.
    """
    from kith.people import access

    access.require_manager(actor)
    if organization.kind != Party.Kind.ORGANIZATION:
        raise ValidationFailed.single("organization", "Must be an organisation.")
    if not isinstance(enabled, bool):
        raise ValidationFailed.single("enabled", "Must be true or false.")
    with transaction.atomic():
        org = Party.objects.select_for_update().get(pk=organization.pk)
        if org.portal_shares_cases == enabled:
            return org
        org.portal_shares_cases = enabled
        org.save(update_fields=["portal_shares_cases", "updated_at"])
        audit.record(
            actor=actor,
            action="organization.portal_sharing_changed",
            obj=org,
            changes={"portal_shares_cases": [not enabled, enabled]},
            party_id=org.pk,
        )
        events.emit(
            "organization.portal_sharing_changed",
            obj=org,
            actor=actor,
            data={"portal_shares_cases": enabled},
        )
    return org


# ---------------------------------------------------------------- trash


def _check_party_restore(user, party: Party) -> None:
    """Who may delete a party may restore it: the API's delete checks, on the restored row."""
    from kith.people import access

    access.get_party_for_change(user, party.public_id, kind=party.kind)
    access.require_manager(user)


def _after_party_restore(*, actor, obj: Party, item: TrashItem) -> None:
    """Back in search, and the delete and the restore on the record's own timeline."""
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    search.reindex([obj.pk])
    user = actor if getattr(actor, "pk", None) else None
    for kind, summary, at in (
        ("deleted", f"Deleted by {item.deleted_by_label}", item.deleted_at),
        ("restored", "Restored from the trash", None),
    ):
        interaction_services.log_interaction(
            actor=user,
            party=obj,
            channel=Channel.SYSTEM,
            direction=Direction.INTERNAL,
            kind=kind,
            summary=summary,
            occurred_at=at,
        )


def _party_url(party: Party) -> str:
    from django.urls import reverse

    name = "people:person" if party.kind == Party.Kind.PERSON else "people:organization"
    return reverse(name, kwargs={"public_id": party.public_id})


for _kind, _noun in (("person", "Person"), ("organization", "Organisation")):
    trash.register(
        trash.Kind(
            name=_kind,
            noun=_noun,
            model=Party,
            check_restore=_check_party_restore,
            after_restore=_after_party_restore,
            url=_party_url,
        )
    )
