"""The trash: deleted records kept for a while, so a delete can be undone.

A delete stays a real delete (every query in the project stays correct, no "deleted"
flag to remember). Just before it, inside the same transaction, ``put`` asks Django's
deletion ``Collector`` which rows the delete will take with it (cascades, many-to-many
rows, both sides) and which references it will clear (``SET_NULL``), and stores them
in a ``TrashItem``: rows serialised with ``django.core.serializers`` (full precision),
in the order they can be inserted again, and the cleared references with their old
values.

``restore`` puts it all back in one transaction, with the original primary keys (so
generic references, audit entries, links and bookmarks that name the record work
again), or refuses with a 409 that says what is in the way: a row that now clashes
with another (a contact point's normalised value taken by someone else), or a row
the record points at that is gone (the deal's pipeline deleted since). Nothing is
half-written: a refusal rolls the whole restore back. Cleared references are set back
only where they are still empty, so a later change wins.

Apps wire their kinds in (``register``): which model, the access check of "may this
user delete it" (run on the restored row, inside the transaction, so a refusal undoes
the restore), and what to redo afterwards (search index, forecast, timeline). This
module stays model-generic: core imports no other app.

Who sees the trash: staff only (customers get 404). Admins and managers see every
item; other staff see what they deleted themselves. Items older than the retention
(``KITH_TRASH_DAYS``, 30 by default) cannot be restored (410) and are purged by a
periodic worker job; admins may purge an item sooner.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, router, transaction
from django.db.models.deletion import Collector
from django.db.models.query import QuerySet
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, Forbidden, Gone, NotFound
from kith.core.models import TrashItem

# The most conflicts named in one refusal: enough to act on, short enough to read.
_MAX_REASONS = 3


@dataclass(frozen=True)
class Kind:
    """How one kind of record goes to and comes back from the trash."""

    name: str  # "person", "deal", … (also the event prefix: "deal.restored")
    model: type[models.Model]
    # Raises NotFound / Forbidden when ``user`` may not delete ``obj`` (the app's own
    # delete check); called on the restored row inside the restore's transaction.
    check_restore: Callable[[Any, models.Model], None]
    # Redo what the delete undid outside the rows (search index, totals, timeline).
    after_restore: Callable[..., None] | None = None
    # The web page of a restored record, for the "Restored" link.
    url: Callable[[models.Model], str] | None = None
    noun: str = ""

    @property
    def label(self) -> str:
        return self.noun or self.name.replace("_", " ").capitalize()


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make ``kind`` restorable; apps call this when their services module loads."""
    _kinds[kind.name] = kind
    return kind


def kinds() -> dict[str, Kind]:
    return dict(_kinds)


def retention() -> dt.timedelta:
    return dt.timedelta(days=float(getattr(settings, "KITH_TRASH_DAYS", 30)))


# ---------------------------------------------------------------- snapshot


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder cuts datetimes to milliseconds; a restore must be exact."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def _plain_fields(model: type[models.Model]) -> list[str]:
    """Concrete fields only: many-to-many rows travel as rows of their own table."""
    return [f.name for f in model._meta.local_concrete_fields if not f.primary_key]


def _serialise(model: type[models.Model], pks: Iterable[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pks = sorted(set(pks))
    for start in range(0, len(pks), 500):
        # Re-read whole rows: the collector loads only the columns the delete needs.
        qs = model._base_manager.filter(pk__in=pks[start : start + 500]).order_by("pk")
        data = serializers.serialize("python", qs, fields=_plain_fields(model))
        rows += json.loads(json.dumps(data, cls=_Encoder))
    return rows


def _pks(objs: Any) -> list[Any]:
    if isinstance(objs, QuerySet):
        return list(objs.values_list("pk", flat=True))
    return [o.pk for o in objs]


def snapshot_of(obj: models.Model) -> dict[str, Any]:
    """The rows ``obj.delete()`` would remove and the references it would clear.

    ``{"rows": [[model label, [serialised row, …]], …]}`` in insertion order (what the
    record depends on first), and ``{"cleared": [[model label, field, [[pk, old], …]]]}``.
    """
    using = router.db_for_write(type(obj), instance=obj)
    collector = Collector(using=using, origin=obj)
    collector.collect([obj])
    collector.sort()  # deletion order: dependents before what they point at
    order: list[type[models.Model]] = []
    pks: dict[type[models.Model], set] = defaultdict(set)
    for model, instances in collector.data.items():
        if model not in pks:
            order.append(model)
        pks[model].update(o.pk for o in instances)
    # Fast deletes are leaves (nothing cascades from them): deleted first, inserted last.
    for objs in collector.fast_deletes:
        model = objs.model if isinstance(objs, QuerySet) else type(next(iter(objs), obj))
        found = _pks(objs)
        if not found:
            continue
        if model not in pks:
            order.insert(0, model)
        pks[model].update(found)
    rows = [[_label(m), _serialise(m, pks[m])] for m in reversed(order) if pks[m]]
    cleared = []
    for (field, _value), batches in collector.field_updates.items():
        pairs = []
        for objs in batches:
            if isinstance(objs, QuerySet):
                pairs += [list(p) for p in objs.values_list("pk", field.attname)]
            else:
                pairs += [[o.pk, getattr(o, field.attname)] for o in objs]
        if pairs:
            cleared.append([_label(field.model), field.attname, pairs])
    return json.loads(json.dumps({"rows": rows, "cleared": cleared}, cls=_Encoder))


def put(
    *, actor: Any, kind: str, obj: models.Model, label: str, party_id: int | None = None
) -> TrashItem:
    """Keep ``obj`` and what its delete takes along in the trash; call inside the delete's
    transaction, just before ``obj.delete()``."""
    snap = snapshot_of(obj)
    now = timezone.now()
    user = (
        actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None
    )
    return TrashItem.objects.create(
        kind=kind,
        label=label[:300],
        object_type=ContentType.objects.get_for_model(type(obj)),
        object_id=obj.pk,
        object_public_id=getattr(obj, "public_id", None),
        party_id=party_id,
        deleted_by=user,
        deleted_by_label=user.get_username() if user else "system",
        deleted_at=now,
        expires_at=now + retention(),
        row_count=sum(len(r) for _label_, r in snap["rows"]),
        snapshot=snap,
    )


# ---------------------------------------------------------------- access


def scope_items(user: Any) -> QuerySet:
    """Trash items ``user`` may see: none for customers, all for admins and managers,
    their own deletions for other staff."""
    if not getattr(user, "is_staff_user", False):
        return TrashItem.objects.none()
    qs = TrashItem.objects.select_related("object_type")
    if getattr(user, "sees_everything", False):
        return qs
    return qs.filter(deleted_by_id=user.pk)


def get_item(user: Any, public_id: Any) -> TrashItem:
    try:
        pid = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such item in the trash.") from exc
    item = scope_items(user).filter(public_id=pid).first()
    if item is None:
        raise NotFound("No such item in the trash.")
    return item


def can_purge(user: Any) -> bool:
    return getattr(user, "is_staff_user", False) and getattr(user, "role", "") == "admin"


def is_expired(item: TrashItem) -> bool:
    return item.expires_at <= timezone.now()


# ---------------------------------------------------------------- restore


def _deserialise(snap: dict[str, Any]) -> list[models.Model]:
    objs = []
    for label, rows in snap.get("rows", []):
        try:
            apps.get_model(label)
        except LookupError:  # a model removed since: nothing of it to put back
            continue
        for d in serializers.deserialize("python", rows, ignorenonexistent=True):
            objs.append(d.object)
    return objs


def _describe(obj: models.Model) -> str:
    return f"{obj._meta.verbose_name} “{str(obj)[:80]}”"


def _missing_targets(objs: list[models.Model]) -> list[str]:
    """Rows the restored ones point at that exist neither in the database nor among them."""
    coming: dict[tuple[type[models.Model], str], set] = {}

    def among_restored(target: type[models.Model], attname: str) -> set:
        key = (target, attname)
        if key not in coming:
            coming[key] = {getattr(o, attname) for o in objs if o._meta.concrete_model is target}
        return coming[key]

    wanted: dict[tuple[type[models.Model], str], dict[Any, models.Model]] = defaultdict(dict)
    for o in objs:
        for f in o._meta.concrete_fields:
            if not f.is_relation or f.many_to_many or f.primary_key:
                continue
            value = getattr(o, f.attname)
            target = f.related_model._meta.concrete_model
            attname = f.target_field.attname  # the pk, or the field a to_field names
            if value is None or value in among_restored(target, attname):
                continue
            wanted[(target, attname)].setdefault(value, o)
    reasons = []
    for (target, attname), needed in wanted.items():
        found = set(
            target._base_manager.filter(**{f"{attname}__in": list(needed)}).values_list(
                attname, flat=True
            )
        )
        for value, o in needed.items():
            if value not in found:
                reasons.append(
                    f"{_describe(o)} refers to a {target._meta.verbose_name} that no longer "
                    "exists (restore that first, if it is in the trash)"
                )
    return reasons


def _clashes(objs: list[models.Model]) -> list[str]:
    """Why inserting ``objs`` failed: the rows that clash with rows now in the database."""
    reasons = []
    for o in objs:
        try:
            o.validate_unique()
            o.validate_constraints()
        except ValidationError as exc:
            detail = " ".join(str(m) for m in exc.messages)
            reasons.append(f"{_describe(o)} clashes with an existing record ({detail})")
        if len(reasons) >= _MAX_REASONS:
            break
    return reasons


def _refuse(reasons: list[str]) -> Conflict:
    shown = reasons[:_MAX_REASONS]
    more = len(reasons) - len(shown)
    text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return Conflict(f"Cannot restore: {text}.")


def _put_back_cleared(snap: dict[str, Any]) -> None:
    for label, attname, pairs in snap.get("cleared", []):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        by_value: dict[Any, list] = defaultdict(list)
        for pk, old in pairs:
            by_value[old].append(pk)
        for old, pks in by_value.items():
            # Only where still cleared: a reference set again since is the newer truth.
            model._base_manager.filter(pk__in=pks, **{attname: None}).update(**{attname: old})


def restore(*, actor: Any, item: TrashItem) -> models.Model:
    """Put ``item``'s rows back; return the restored record.

    404 when the item is gone (restored or purged), 410 after the retention, 409 when a
    row clashes or points at something deleted since; the app's own delete check runs
    on the restored record and undoes everything when it refuses.
    """
    with transaction.atomic():
        item = TrashItem.objects.select_for_update().filter(pk=item.pk).first()
        if item is None:
            raise NotFound("This item is no longer in the trash.")
        if is_expired(item):
            raise Gone("This item has passed its time in the trash and can no longer be restored.")
        kind = _kinds.get(item.kind)
        if kind is None:
            raise Conflict(f"Records of kind “{item.kind}” cannot be restored.")
        snap = item.snapshot or {}
        objs = _deserialise(snap)
        missing = _missing_targets(objs)
        if missing:
            raise _refuse(missing)
        try:
            with transaction.atomic():  # a savepoint: PostgreSQL needs one to carry on
                for o in objs:
                    # raw: the stored values as they were (timestamps included), no signals'
                    # side effects; force_insert: never overwrite a row that exists now.
                    o.save_base(raw=True, force_insert=True)
        except IntegrityError as exc:
            reasons = _clashes(objs) or [f"a row clashes with an existing record ({exc})"]
            raise _refuse(reasons) from exc
        _put_back_cleared(snap)
        obj = kind.model._base_manager.filter(pk=item.object_id).first()
        if obj is None:
            raise Conflict("The record was not in its own snapshot; it cannot be restored.")
        kind.check_restore(actor, obj)
        audit.record(
            actor=actor,
            action=f"{kind.name}.restored",
            obj=obj,
            changes={"rows": item.row_count, "deleted_at": item.deleted_at.isoformat()},
            party_id=item.party_id,
        )
        events.emit(
            f"{kind.name}.restored",
            obj=obj,
            actor=actor,
            data={
                "label": item.label,
                "deleted_at": item.deleted_at.isoformat(),
                "deleted_by": item.deleted_by_label,
            },
        )
        if kind.after_restore is not None:
            kind.after_restore(actor=actor, obj=obj, item=item)
        item.delete()
    return obj


def purge(*, actor: Any, item: TrashItem) -> None:
    """Delete ``item`` for good before its time (admins only)."""
    if not can_purge(actor):
        raise Forbidden("Only admins can empty the trash.")
    with transaction.atomic():
        locked = TrashItem.objects.select_for_update().filter(pk=item.pk).first()
        if locked is None:
            raise NotFound("This item is no longer in the trash.")
        audit.record(
            actor=actor,
            action="trash.purged",
            obj=locked,
            changes={"kind": locked.kind, "label": locked.label},
            party_id=locked.party_id,
        )
        locked.delete()


def purge_expired(*, batch: int = 500) -> int:
    """Delete the items past their retention (the periodic job); returns how many."""
    done = 0
    while True:
        ids = list(
            TrashItem.objects.filter(expires_at__lte=timezone.now()).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return done
        done += TrashItem.objects.filter(pk__in=ids).delete()[0]
