"""The audit log: one call records who changed what, from which channel."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone

from kith.core.context import current_channel
from kith.core.models import AuditEntry


def jsonable(value: Any) -> Any:
    """Turn field values into JSON for the changes column (dates, decimals, uuids, FKs)."""
    if isinstance(value, models.Model):
        return str(getattr(value, "public_id", value.pk))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as ``{field: [old, new]}``."""
    return {
        key: [jsonable(before.get(key)), jsonable(after.get(key))]
        for key in after
        if jsonable(before.get(key)) != jsonable(after.get(key))
    }


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    changes: dict | None = None,
    party_id: int | None = None,
) -> AuditEntry:
    """Append one audit entry; call inside the service's transaction.

    Every write of every service passes here, so the row goes in through one prepared
    INSERT (see :func:`_insert`) rather than the ORM's compiler, which cost more to
    build the statement than the database took to run it. The entry is returned
    unsaved-looking (no ``pk``): callers only ever record, never read back.
    """
    actor_obj = (
        actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None
    )
    entry = AuditEntry(
        occurred_at=timezone.now(),
        actor=actor_obj,
        actor_label=actor.get_username() if actor_obj else "system",
        channel=current_channel(),
        action=action,
        object_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        object_public_id=getattr(obj, "public_id", None),
        object_label=str(obj)[:300],
        party_id=party_id,
        changes=jsonable(changes or {}),
    )
    _insert(entry)
    return entry


_COLUMNS = (
    "occurred_at",
    "actor",
    "actor_label",
    "channel",
    "action",
    "object_type",
    "object_id",
    "object_public_id",
    "object_label",
    "party_id",
    "changes",
)


@functools.cache
def _statement(vendor: str) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(AuditEntry._meta.get_field(name) for name in _COLUMNS)
    quote = connection.ops.quote_name
    # Table and column names come from the model, never from input.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(AuditEntry._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    return sql, fields


def _insert(entry: AuditEntry) -> None:
    """INSERT one entry with a statement built once per database vendor."""
    sql, fields = _statement(connection.vendor)
    params = [field.get_db_prep_save(getattr(entry, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
