"""Bulk writes without model instances: many rows in few statements.

``insert_rows`` is for code that writes thousands of rows at once (an import's chunk,
a batch of events handled set-wise): no model instances, no SQL compiler, one adapter
per column; PostgreSQL takes the rows through ``COPY``. It was measured several times
cheaper than ``bulk_create`` on the import path, where it was first written.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL

_MISSING = object()


def _adapter(field: models.Field, now: dt.datetime) -> Callable[[Any], Any] | None:
    """How one column's Python value becomes what the driver takes; None: as it is.

    Strings, numbers, booleans and ids need nothing. Dates, times and UUIDs go
    through the backend's own adapters (skipping the field's generic layers), JSON
    through the field, so the stored forms are exactly Django's.
    """
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        adapted_now = ops.adapt_datetimefield_value(now)
        return lambda v: adapted_now if v is now else ops.adapt_datetimefield_value(v)
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return None
        return lambda v: v.hex if isinstance(v, uuid.UUID) else v
    if isinstance(
        field,
        (models.CharField, models.TextField, models.IntegerField, models.BooleanField),
    ) or (field.is_relation and field.many_to_one):
        return None
    if type(field) is models.JSONField:
        # What get_db_prep_save ends in, without its layers (a third of an import's
        # time in this function went there): the backend's own JSON adapter.
        adapt_json, encoder = ops.adapt_json_value, field.encoder
        return lambda v: adapt_json(v, encoder)
    return lambda v: field.get_db_prep_save(v, connection)


def insert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    now: dt.datetime,
    *,
    returning_pk: bool = False,
) -> list[int]:
    """INSERT ``rows`` (attname → value) into ``model``'s table in few statements.

    Cheaper than ``bulk_create``: no model instances (their init signals), no SQL
    compiler, one adapter per column. Columns a row leaves out get the field's default
    (called per row when it is callable, such as ``uuid4`` for public ids) and
    ``auto_now`` fields get ``now``. No signals are sent, as with ``bulk_create``.

    PostgreSQL takes the rows through ``COPY``: Django binds parameters on the client,
    so each row of an ``executemany`` was a new statement for the server to parse and
    plan. SQLite takes them through ``executemany``.

    With ``returning_pk`` it returns the new ids in the order of ``rows``. PostgreSQL
    hands them out from the table's sequence before the ``COPY``; SQLite (3.35+) takes
    many rows per ``INSERT … RETURNING``, matched back by ``public_id`` so it does not
    rely on the order of the returned rows.
    """
    if not rows:
        return []
    if returning_pk:
        for row in rows:  # callers read the public ids; SQLite also matches ids by them
            row.setdefault("public_id", uuid.uuid4())
    if returning_pk and connection.vendor == "postgresql":
        ids = reserve_ids(model, len(rows))
        insert_rows(model, [{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)], now)
        return ids
    given_pk = "id" in rows[0]
    fields = [
        f
        for f in model._meta.concrete_fields
        if given_pk or not (f.primary_key and isinstance(f, models.AutoField))
    ]
    # (attname, default factory, default value, set to now when empty)
    makers: list[tuple[str, Callable[[], Any] | None, Any, bool]] = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            makers.append((f.attname, None, now, True))
        elif f.has_default() and callable(f.default):
            makers.append((f.attname, f.default, None, False))
        else:
            makers.append((f.attname, None, f.get_default(), False))
    adapters = [_adapter(f, now) for f in fields]
    params = []
    for row in rows:
        values = []
        for (name, factory, default, auto), adapt in zip(makers, adapters, strict=True):
            value = row.get(name, _MISSING)
            if value is _MISSING or (auto and value is None):
                value = factory() if factory else default
            values.append(adapt(value) if adapt is not None and value is not None else value)
        params.append(values)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        if not returning_pk and connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
            return []
        if not returning_pk:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one}", params)  # noqa: S608
            return []
        ids: dict[uuid.UUID, int] = {}
        per = max(1, (connection.features.max_query_params or 30000) // len(fields))
        for start in range(0, len(params), per):
            batch = params[start : start + per]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(batch))} "  # noqa: S608
                f"RETURNING {quote('id')}, {quote('public_id')}",
                [value for values in batch for value in values],
            )
            for pk, public_id in cursor.fetchall():
                ids[public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(public_id)] = pk
    return [ids[row["public_id"]] for row in rows]


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """PostgreSQL: ``count`` new ids from the sequence behind ``model``'s primary key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def id_set(ids: Iterable[int]) -> RawSQL | list[int]:
    """Integer ids for ``field__in=``, sent as one parameter: a subquery over a JSON
    array (SQLite's ``json_each``) or an array (PostgreSQL's ``unnest``).

    Django prepares each parameter of a plain ``__in`` list on its own (~7 µs each):
    with tens of thousands of ids, a batch of identity scoring's candidates, that was a
    tenth of its CPU. Other databases get the plain list.
    """
    values = [int(i) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [values])
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(values)])
    return values


def id_set_sql(ids: Iterable[int]) -> tuple[str, list]:
    """:func:`id_set` for a raw statement: the SQL for ``id IN (…)`` and its parameters."""
    ids_param = id_set(ids)
    if isinstance(ids_param, RawSQL):
        return ids_param.sql, list(ids_param.params)
    return ", ".join(["%s"] * len(ids_param)), ids_param
