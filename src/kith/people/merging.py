"""Merging duplicate parties and suggesting duplicates.

A merge moves *everything* that points at the absorbed party to the survivor: every
foreign key to Party found by introspection (contact points, relationships,
interactions, transactions, and whatever later apps add), generic references through
the ``party_merged`` signal, and the audit history. The absorbed row stays, marked
``merged`` with ``merged_into`` set, so old links and API ids still resolve.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.dispatch import Signal
from rapidfuzz import fuzz

from kith.core import audit, events
from kith.core.errors import FieldError, MergedConflict, ValidationFailed
from kith.core.models import AuditEntry
from kith.people import search
from kith.people.models import ContactPoint, Party, Relationship
from kith.people.services import ORGANIZATION_FIELDS, PERSON_FIELDS

# Sent inside the merge transaction; receivers move generic references (content type + id).
party_merged = Signal()

NAME_MATCH_THRESHOLD = 86


@dataclass
class FieldChoice:
    field: str
    keep_value: Any
    absorb_value: Any
    conflict: bool
    default: str  # "keep" or "absorb"


@dataclass
class MergePreview:
    keep: Party
    absorb: Party
    fields: list[FieldChoice]
    moves: dict[str, int]
    result: dict[str, Any]
    blockers: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[FieldChoice]:
        return [f for f in self.fields if f.conflict]


def _merge_fields(party: Party) -> tuple[str, ...]:
    if party.kind == Party.Kind.PERSON:
        # A person's display name follows the chosen given and family names.
        base = tuple(f for f in PERSON_FIELDS if f != "display_name")
    else:
        base = ORGANIZATION_FIELDS
    return (*base, "visibility", "owner")


def _value(party: Party, name: str) -> Any:
    if name == "owner":
        return party.owner.get_username() if party.owner_id else None
    return getattr(party, name)


def _attribute_keys(keep: Party, absorb: Party) -> list[str]:
    return sorted(set(keep.attributes) | set(absorb.attributes))


def _party_relations() -> list[models.ForeignKey]:
    """Every FK (not one-to-one, not the merge pointer itself) that points at Party."""
    out = []
    for rel in Party._meta.related_objects:
        fk = rel.field
        if rel.one_to_one or rel.many_to_many or not isinstance(fk, models.ForeignKey):
            continue
        if fk.model is Party and fk.name == "merged_into":
            continue
        # Rows about the pair itself (identity match suggestions) stay where they are:
        # the merge is what they record.
        if getattr(fk.model, "MERGE_KEEPS_REFERENCES", False):
            continue
        out.append(fk)
    return out


def preview(*, keep: Party, absorb: Party) -> MergePreview:
    """What merging ``absorb`` into ``keep`` would do, with every conflicting field."""
    blockers = []
    if keep.pk == absorb.pk:
        blockers.append("A record cannot be merged into itself.")
    if keep.kind != absorb.kind:
        blockers.append("A person and an organisation cannot be merged.")
    if keep.status != Party.Status.ACTIVE or absorb.status != Party.Status.ACTIVE:
        blockers.append("Only active records can be merged.")
    if getattr(keep, "user", None) is not None and _has_user(absorb):
        blockers.append("Both records have a login; remove one login first.")
    choices = []
    result: dict[str, Any] = {}
    for name in _merge_fields(keep):
        a, b = _value(keep, name), _value(absorb, name)
        empty_a, empty_b = a in (None, ""), b in (None, "")
        conflict = not empty_a and not empty_b and a != b
        default = "absorb" if empty_a and not empty_b else "keep"
        choices.append(FieldChoice(name, a, b, conflict, default))
        result[name] = b if default == "absorb" else a
    for key in _attribute_keys(keep, absorb):
        a, b = keep.attributes.get(key), absorb.attributes.get(key)
        conflict = a is not None and b is not None and a != b
        default = "absorb" if a is None else "keep"
        choices.append(FieldChoice(f"attributes.{key}", a, b, conflict, default))
        result[f"attributes.{key}"] = b if default == "absorb" else a
    result["interests"] = _union(keep.interests, absorb.interests)
    result["tags"] = sorted({t.name for t in keep.tags.all()} | {t.name for t in absorb.tags.all()})
    moves = {}
    for fk in _party_relations():
        count = fk.model._default_manager.filter(**{fk.name: absorb}).count()
        if count:
            moves[f"{fk.model._meta.verbose_name_plural} ({fk.name})"] = count
    return MergePreview(
        keep=keep, absorb=absorb, fields=choices, moves=moves, result=result, blockers=blockers
    )


def _has_user(party: Party) -> bool:
    try:
        return party.user is not None
    except Party.user.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return False


def _union(a: list, b: list) -> list:
    out = list(a)
    seen = {str(x).casefold() for x in out}
    for item in b:
        if str(item).casefold() not in seen:
            seen.add(str(item).casefold())
            out.append(item)
    return out


def merge(*, actor, keep: Party, absorb: Party, choices: dict[str, str] | None = None) -> Party:
    """Merge ``absorb`` into ``keep``; ``choices`` maps field → "keep"|"absorb" for conflicts."""
    choices = choices or {}
    with transaction.atomic():
        # Lock both rows in one order (by id): two merges of one pair in opposite
        # directions at once must queue, not deadlock.
        locked = {
            p.pk: p
            for p in Party.objects.select_for_update()
            .filter(pk__in=[keep.pk, absorb.pk])
            .order_by("pk")
        }
        keep, absorb = locked[keep.pk], locked[absorb.pk]
        for party in (keep, absorb):
            if party.status == Party.Status.MERGED and party.merged_into_id:
                # A concurrent merge absorbed it first: name the survivor (409).
                survivor = Party.objects.get(pk=party.merged_into_id)
                seen = {party.pk}
                while survivor.merged_into_id and survivor.pk not in seen:
                    seen.add(survivor.pk)
                    survivor = Party.objects.get(pk=survivor.merged_into_id)
                raise MergedConflict(new_public_id=str(survivor.public_id))
        plan = preview(keep=keep, absorb=absorb)
        if plan.blockers:
            raise ValidationFailed(
                plan.blockers[0], errors=[FieldError("absorb", b) for b in plan.blockers]
            )
        known = {f.field for f in plan.fields}
        bad = [
            FieldError(f"choices.{k}", "Must be keep or absorb.")
            for k, v in choices.items()
            if v not in ("keep", "absorb")
        ]
        bad += [
            FieldError(f"choices.{k}", "Not a field of this record.")
            for k in choices
            if k not in known
        ]
        if bad:
            raise ValidationFailed(errors=bad)
        before = {"keep": str(keep.public_id), "absorb": str(absorb.public_id)}
        for choice in plan.fields:
            take = choices.get(choice.field, choice.default)
            if take != "absorb":
                continue
            if choice.field.startswith("attributes."):
                keep.attributes[choice.field.split(".", 1)[1]] = choice.absorb_value
            elif choice.field == "owner":
                keep.owner_id = absorb.owner_id
            else:
                setattr(keep, choice.field, getattr(absorb, choice.field))
        if keep.kind == Party.Kind.PERSON:
            keep.display_name = (
                " ".join(p for p in (keep.given_name, keep.family_name) if p) or keep.display_name
            )
        keep.interests = plan.result["interests"]
        keep.save()
        keep.tags.add(*absorb.tags.all())
        moved = _move_references(keep, absorb)
        if _has_user(absorb) and not _has_user(keep):
            user = absorb.user
            user.person = keep
            user.save(update_fields=["person"])
        absorb.status = Party.Status.MERGED
        absorb.merged_into = keep
        absorb.save(update_fields=["status", "merged_into", "updated_at"])
        # Old merges that pointed at the absorbed record now point straight at the survivor.
        Party.objects.filter(merged_into=absorb).update(merged_into=keep)
        party_merged.send(sender=Party, keep=keep, absorb=absorb)
        search.reindex([keep.pk])
        search.remove([absorb.pk])
        name = "person.merged" if keep.kind == Party.Kind.PERSON else "organization.merged"
        audit.record(
            actor=actor,
            action=name,
            obj=keep,
            changes={**before, "moved": moved, "choices": choices},
            party_id=keep.pk,
        )
        events.emit(
            name, obj=keep, actor=actor, data={"absorbed": str(absorb.public_id), "moved": moved}
        )
    return keep


def _move_references(keep: Party, absorb: Party) -> dict[str, int]:
    moved: dict[str, int] = {}
    _dedupe_relationships(keep, absorb)
    for fk in _party_relations():
        qs = fk.model._default_manager.filter(**{fk.name: absorb})
        count = qs.update(**{fk.name: keep})
        if count:
            moved[f"{fk.model._meta.label_lower}.{fk.name}"] = count
    # A relationship between the two merged records would now point at itself.
    Relationship.objects.filter(subject=keep, object=keep).delete()
    _fix_primary_contacts(keep)
    party_type = ContentType.objects.get_for_model(Party)
    AuditEntry.objects.filter(party_id=absorb.pk).update(party_id=keep.pk)
    moved["audit entries"] = AuditEntry.objects.filter(
        object_type=party_type, object_id=absorb.pk
    ).count()
    return moved


def _dedupe_relationships(keep: Party, absorb: Party) -> None:
    """Where both held the same role towards the same party, keep one spanning both periods."""
    for rel in Relationship.objects.filter(subject=absorb):
        twin = (
            Relationship.objects.filter(subject=keep, role=rel.role_id, object=rel.object_id)
            .overlapping(rel.valid_from or dt.date.min, rel.valid_to or dt.date.max)
            .first()
        )
        if twin is None:
            continue
        twin.valid_from = (
            None
            if rel.valid_from is None or twin.valid_from is None
            else min(rel.valid_from, twin.valid_from)
        )
        twin.valid_to = (
            None
            if rel.valid_to is None or twin.valid_to is None
            else max(rel.valid_to, twin.valid_to)
        )
        twin.save(update_fields=["valid_from", "valid_to", "updated_at"])
        rel.delete()


def _fix_primary_contacts(party: Party) -> None:
    for channel in set(party.contact_points.values_list("channel", flat=True)):
        primaries = list(party.contact_points.filter(channel=channel, primary=True).order_by("id"))
        for extra in primaries[1:]:
            ContactPoint.objects.filter(pk=extra.pk).update(primary=False)


# ---------------------------------------------------------------- duplicate suggestions


@dataclass
class DuplicateSuggestion:
    party: Party
    reason: str
    score: float


def suggest_duplicates(
    *,
    scope,
    name: str,
    contacts: list[tuple[str, str]],
    exclude: Party | None = None,
    kind: str = "person",
    limit: int = 5,
) -> list[DuplicateSuggestion]:
    """Likely duplicates: the same normalised e-mail/phone/handle, or a close name.

    ``contacts`` holds (channel, normalized) pairs; ``scope`` is the queryset of parties
    the asking user may see, so suggestions never leak hidden records.
    """
    found: dict[int, DuplicateSuggestion] = {}
    pairs = [(c, n) for c, n in contacts if c != ContactPoint.POSTAL]
    if pairs:
        condition = models.Q()
        for channel, normalized in pairs:
            condition |= models.Q(channel=channel, normalized=normalized)
        for cp in ContactPoint.objects.filter(condition).select_related("party"):
            party = cp.party
            if party.status != Party.Status.ACTIVE or (exclude and party.pk == exclude.pk):
                continue
            if not scope.filter(pk=party.pk).exists():
                continue
            found[party.pk] = DuplicateSuggestion(party, f"same {cp.channel} {cp.value}", 1.0)
    if name.strip():
        candidates = search.search(
            scope.filter(kind=kind, status=Party.Status.ACTIVE), name, limit=20
        )
        for party in candidates:
            if party.pk in found or (exclude and party.pk == exclude.pk):
                continue
            score = fuzz.token_sort_ratio(name.casefold(), party.display_name.casefold())
            if score >= NAME_MATCH_THRESHOLD:
                found[party.pk] = DuplicateSuggestion(
                    party, f"similar name ({score:.0f}%)", score / 100
                )
    return sorted(found.values(), key=lambda s: -s.score)[:limit]


def duplicates_of(party: Party, *, scope) -> list[DuplicateSuggestion]:
    contacts = list(party.contact_points.values_list("channel", "normalized"))
    return suggest_duplicates(
        scope=scope, name=party.display_name, contacts=contacts, exclude=party, kind=party.kind
    )
