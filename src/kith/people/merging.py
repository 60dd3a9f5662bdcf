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
from kith.people.models import ContactPoint, MergeRecord, Party, Relationship
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


def richness(party: Party) -> int:
    """How much a record holds: filled fields, contact points, roles and (bounded) history.

    The merge screen keeps the richer of two records by default, so the user's usual
    choice is one click and the record with the history keeps its id.
    """
    filled = sum(1 for name in _merge_fields(party) if _value(party, name) not in (None, ""))
    contacts = party.contact_points.count()
    roles = Relationship.objects.filter(subject=party).count()
    history = party.interactions.all()[:200].count()
    return filled + 2 * contacts + 2 * roles + history


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
        snapshot = _snapshot(keep, absorb)
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
        record = MergeRecord.objects.create(
            keep=keep,
            absorb=absorb,
            actor=actor if getattr(actor, "pk", None) else None,
            snapshot=snapshot,
        )
        _timeline_note(
            keep, f"Merged {absorb.display_name} into this record", actor, record, "merge"
        )
        events.emit(
            name,
            obj=keep,
            actor=actor,
            data={
                "absorbed": str(absorb.public_id),
                "moved": moved,
                "merge_record": str(record.public_id),
            },
        )
    return keep


# ---------------------------------------------------------------- undo


def _generic_references() -> list[tuple[type[models.Model], str, str]]:
    """(model, content-type field, id field) of every generic reference in the project."""
    from django.apps import apps
    from django.contrib.contenttypes.fields import GenericForeignKey

    found = []
    for model in apps.get_models():
        pairs = {
            (f.ct_field, f.fk_field)
            for f in model._meta.private_fields
            if isinstance(f, GenericForeignKey)
        }
        # Apps also keep (X_type, X_id) pairs without declaring a GenericForeignKey.
        names = {f.name for f in model._meta.concrete_fields}
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is ContentType and f.name.endswith("_type"):
                id_field = f.name[: -len("_type")] + "_id"
                if id_field in names:
                    pairs.add((f.name, id_field))
        found += [(model, ct, fk) for ct, fk in sorted(pairs)]
    return found


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


# Relations whose rows a merge may delete while folding duplicates (relationships held by
# both, a person on a deal twice): their rows are kept whole in the snapshot so an undo can
# put them back. Larger relations (interactions, …) are only moved, never deleted.
_SERIALISE_ROWS_UP_TO = 500


def _snapshot(keep: Party, absorb: Party) -> dict[str, Any]:
    """Everything an undo needs, taken inside the merge transaction before any change."""
    import json

    from django.core import serializers
    from django.core.serializers.json import DjangoJSONEncoder

    fields = {name: getattr(keep, name) for name in _merge_fields(keep) if name != "owner"}
    fields.update(
        display_name=keep.display_name,
        interests=list(keep.interests),
        attributes=dict(keep.attributes),
        owner_id=keep.owner_id,
    )
    fk_rows: dict[str, dict[str, Any]] = {}
    for fk in _party_relations():
        qs = fk.model._default_manager.filter(**{fk.name: absorb})
        ids = list(qs.values_list("pk", flat=True))
        if not ids:
            continue
        entry: dict[str, Any] = {"ids": ids}
        if len(ids) <= _SERIALISE_ROWS_UP_TO:
            entry["rows"] = json.loads(
                json.dumps(serializers.serialize("python", qs), cls=DjangoJSONEncoder)
            )
        fk_rows[f"{_label(fk.model)}.{fk.name}"] = entry
    party_type = ContentType.objects.get_for_model(Party)
    generic: dict[str, list] = {}
    for model, ct_field, id_field in _generic_references():
        ids = list(
            model._default_manager.filter(
                **{ct_field: party_type, id_field: absorb.pk}
            ).values_list("pk", flat=True)
        )
        if ids:
            generic[f"{_label(model)}.{id_field}"] = ids
    return {
        "keep_fields": json.loads(json.dumps(fields, cls=DjangoJSONEncoder)),
        "keep_tags": list(keep.tags.values_list("pk", flat=True)),
        "keep_relationships": [
            [
                r.pk,
                r.valid_from.isoformat() if r.valid_from else None,
                r.valid_to.isoformat() if r.valid_to else None,
            ]
            for r in Relationship.objects.filter(subject=keep)
        ],
        "primaries": list(
            ContactPoint.objects.filter(party__in=[keep, absorb], primary=True).values_list(
                "pk", flat=True
            )
        ),
        "fk": fk_rows,
        "generic": generic,
        "user_moved": _has_user(absorb) and not _has_user(keep),
        "repointed": list(Party.objects.filter(merged_into=absorb).values_list("pk", flat=True)),
        "audit": list(AuditEntry.objects.filter(party_id=absorb.pk).values_list("pk", flat=True)),
    }


def _timeline_note(party: Party, summary: str, actor, record: MergeRecord, kind: str) -> None:
    """A merge and its undo are touchpoints of the record's history: on the timeline."""
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    interaction_services.log_interaction(
        actor=actor if getattr(actor, "pk", None) else None,
        party=party,
        channel=Channel.SYSTEM,
        direction=Direction.INTERNAL,
        kind=kind,
        summary=summary[:300],
        related=record,
    )


def undo_window() -> dt.timedelta:
    from django.conf import settings

    return dt.timedelta(days=float(getattr(settings, "KITH_MERGE_UNDO_DAYS", 14)))


def latest_undoable(party: Party) -> MergeRecord | None:
    """The most recent merge into ``party`` that can still be undone, if any."""
    from django.utils import timezone

    return (
        MergeRecord.objects.filter(
            keep=party, undone_at__isnull=True, created_at__gte=timezone.now() - undo_window()
        )
        .select_related("absorb")
        .order_by("-id")
        .first()
    )


def undo_merge(*, actor, record: MergeRecord) -> tuple[Party, Party]:
    """Put both records back as they were before ``record``'s merge; return (keep, absorb).

    Rows added to the survivor since the merge stay with it; rows the merge moved go back,
    rows it deleted while folding duplicates come back, the survivor's fields and tags
    return to their old values. Refused (409) once undone, after the window, or when the
    survivor has itself been merged away since.
    """
    from django.core import serializers
    from django.utils import timezone

    from kith.core.errors import Conflict

    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.undone_at is not None:
            raise Conflict("This merge was already undone.")
        if record.created_at < timezone.now() - undo_window():
            raise Conflict("This merge is too old to undo.")
        locked = {
            p.pk: p
            for p in Party.objects.select_for_update()
            .filter(pk__in=[record.keep_id, record.absorb_id])
            .order_by("pk")
        }
        keep, absorb = locked[record.keep_id], locked[record.absorb_id]
        if keep.status != Party.Status.ACTIVE:
            raise Conflict("The surviving record was merged or removed since; undo that first.")
        if absorb.status != Party.Status.MERGED or absorb.merged_into_id != keep.pk:
            raise Conflict("The absorbed record is no longer part of this merge.")
        snap = record.snapshot
        # The absorbed record first, so rows moved back point at an active record.
        absorb.status = Party.Status.ACTIVE
        absorb.merged_into = None
        absorb.save(update_fields=["status", "merged_into", "updated_at"])
        by_label = {f"{_label(fk.model)}.{fk.name}": fk for fk in _party_relations()}
        for key, entry in snap.get("fk", {}).items():
            fk = by_label.get(key)
            if fk is None:  # a model removed since: nothing to put back
                continue
            manager = fk.model._default_manager
            manager.filter(pk__in=entry["ids"]).update(**{fk.name: absorb})
            present = set(manager.filter(pk__in=entry["ids"]).values_list("pk", flat=True))
            missing = [row for row in entry.get("rows", []) if row["pk"] not in present]
            if missing:
                for obj in serializers.deserialize("python", missing):
                    obj.save()
        generic = {f"{_label(m)}.{i}": (m, i) for m, _ct, i in _generic_references()}
        for key, ids in snap.get("generic", {}).items():
            if key in generic:
                model, id_field = generic[key]
                model._default_manager.filter(pk__in=ids).update(**{id_field: absorb.pk})
        for pk, valid_from, valid_to in snap.get("keep_relationships", []):
            Relationship.objects.filter(pk=pk, subject=keep).update(
                valid_from=dt.date.fromisoformat(valid_from) if valid_from else None,
                valid_to=dt.date.fromisoformat(valid_to) if valid_to else None,
            )
        ContactPoint.objects.filter(party__in=[keep, absorb]).exclude(
            pk__in=snap.get("primaries", [])
        ).filter(primary=True).update(primary=False)
        ContactPoint.objects.filter(pk__in=snap.get("primaries", [])).update(primary=True)
        fields = snap.get("keep_fields", {})
        for name, value in fields.items():
            if name == "owner_id":
                keep.owner_id = value
            elif name in ("display_name", "interests", "attributes"):
                setattr(keep, name, value)
            else:
                field_obj = Party._meta.get_field(name)
                setattr(keep, name, field_obj.to_python(value) if value is not None else None)
        keep.save()
        keep.tags.set(snap.get("keep_tags", []))
        if snap.get("user_moved"):
            from kith.accounts.models import User

            User.objects.filter(person=keep).update(person=absorb)
        Party.objects.filter(pk__in=snap.get("repointed", [])).update(merged_into=absorb)
        AuditEntry.objects.filter(pk__in=snap.get("audit", [])).update(party_id=absorb.pk)
        record.undone_at = timezone.now()
        record.undone_by = actor if getattr(actor, "pk", None) else None
        record.save(update_fields=["undone_at", "undone_by", "updated_at"])
        search.reindex([keep.pk, absorb.pk])
        name = (
            "person.merge_undone" if keep.kind == Party.Kind.PERSON else "organization.merge_undone"
        )
        audit.record(
            actor=actor,
            action=name,
            obj=keep,
            changes={"keep": str(keep.public_id), "absorb": str(absorb.public_id)},
            party_id=keep.pk,
        )
        for party in (keep, absorb):
            _timeline_note(
                party,
                f"Undid the merge of {absorb.display_name} into {keep.display_name}",
                actor,
                record,
                "merge_undone",
            )
        events.emit(
            name,
            obj=keep,
            actor=actor,
            data={"absorbed": str(absorb.public_id), "merge_record": str(record.public_id)},
        )
    return keep, absorb


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
