"""Statements built once per process for lookups and inserts that every request makes.

The ORM builds and compiles a query anew each time it runs: for the API token lookup
behind every authenticated API request that was about 0.5 ms of CPU, some fifteen
times what the database took to answer it. A lookup here keeps its SQL and the
columns' converters (the backend's and the fields' own ``from_db_value``) from the
first call, and turns the row into model instances with ``Model.from_db`` as the ORM
does, so the objects are the same as a ``select_related`` query's.

``insert_one`` and ``insert_many`` do the same for new rows: ``save()`` and
``bulk_create`` built an INSERT anew for every event, party and contact point.

Only table and column names come from the models; values are always parameters.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, models

Converter = Callable[[Any, Any, Any], Any]
M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class _Plan:
    sql: str
    # attnames of the model's columns and of the related model's, in the SELECT's order
    mine: list[str]
    theirs: list[str]
    converters: list[tuple[Any, list[Converter]]]
    fk: Any
    other: type[models.Model]


@functools.cache
def _plan(model: type[models.Model], column: str, related: str, vendor: str) -> _Plan:
    """SQL, columns and converters for ``model`` joined to its FK ``related``.

    Cached per database vendor: the converters are the backend's methods, which read
    only the database's settings (its time zone), the same for every connection.
    """
    quote = connection.ops.quote_name
    fk = model._meta.get_field(related)
    other: type[models.Model] = fk.related_model  # type: ignore[assignment]
    mine = list(model._meta.concrete_fields)
    theirs = list(other._meta.concrete_fields)
    names = [f"T1.{quote(f.column)}" for f in mine] + [f"T2.{quote(f.column)}" for f in theirs]
    sql = (
        f"SELECT {', '.join(names)} FROM {quote(model._meta.db_table)} T1 "  # noqa: S608
        f"INNER JOIN {quote(other._meta.db_table)} T2 "
        f"ON T2.{quote(other._meta.pk.column)} = T1.{quote(fk.column)} "
        f"WHERE T1.{quote(model._meta.get_field(column).column)} = %s"
    )
    converters = []
    for alias, field in [("T1", f) for f in mine] + [("T2", f) for f in theirs]:
        col = field.get_col(alias)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        converters.append((col, found))
    return _Plan(sql, [f.attname for f in mine], [f.attname for f in theirs], converters, fk, other)


def get_with_related(
    model: type[models.Model], *, column: str, value: Any, related: str
) -> models.Model | None:
    """The row of ``model`` whose unique ``column`` is ``value``, with its FK ``related``
    loaded (as ``select_related``), or None.

    One prepared query; the same instances ``model.objects.select_related(related)
    .filter(**{column: value}).first()`` gives, without building that query each time.
    """
    plan = _plan(model, column, related, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, (col, found) in enumerate(plan.converters):
        for convert in found:
            values[index] = convert(values[index], col, connection)
    split = len(plan.mine)
    obj = model.from_db(connection.alias, plan.mine, values[:split])
    linked = plan.other.from_db(connection.alias, plan.theirs, values[split:])
    plan.fk.set_cached_value(obj, linked)
    return obj


@dataclass(frozen=True)
class _Columns:
    select: str  # SELECT columns FROM table
    attnames: list[str]
    converters: list[tuple[Any, list[Converter]]]


@functools.cache
def _columns(model: type[models.Model], vendor: str) -> _Columns:
    quote = connection.ops.quote_name
    fields = list(model._meta.concrete_fields)
    converters = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        converters.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    select = "SELECT {} FROM {}".format(  # noqa: S608 - names from the model
        ", ".join(quote(f.column) for f in fields), quote(model._meta.db_table)
    )
    return _Columns(select, [f.attname for f in fields], converters)


def select_in(model: type[M], column: str, values: list[Any]) -> list[M]:
    """The rows of ``model`` whose ``column`` is one of ``values``, as instances, in
    no particular order: ``model.objects.filter(<column>__in=values).order_by()``
    without building the query each time (one statement text per number of values).

    ``values`` must already be in the column's database form (strings, numbers).
    """
    if not values:
        return []
    plan = _columns(model, connection.vendor)
    name = connection.ops.quote_name(model._meta.get_field(column).column)
    sql = f"{plan.select} WHERE {name} IN ({', '.join(['%s'] * len(values))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values))
        rows = cursor.fetchall()
    out = []
    for row in rows:
        values_ = list(row)
        for index, (col, found) in enumerate(plan.converters):
            for convert in found:
                values_[index] = convert(values_[index], col, connection)
        out.append(model.from_db(connection.alias, plan.attnames, values_))
    return out


# ---------------------------------------------------------------- inserts


@dataclass(frozen=True)
class _InsertPlan:
    head: str  # INSERT INTO table (columns) VALUES
    row: str  # (%s, %s, …)
    fields: list[models.Field]
    returning: str
    # per field: the Python type whose values the database takes as they are, or None
    plain: list[type | None]


# Fields whose database form is the value itself when it has exactly this type: what
# get_db_prep_save hands back after its generic layers (exact field classes only, so a
# subclass with its own conversion goes the long way).
_PLAIN: dict[type[models.Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.SlugField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BooleanField: bool,
}


def _plain_type(field: models.Field) -> type | None:
    if field.is_relation and field.many_to_one:
        target = field.target_field  # type: ignore[attr-defined]
        return int if type(target) in (models.AutoField, models.BigAutoField) else None
    return _PLAIN.get(type(field))


@functools.cache
def _insert_plan(model: type[models.Model], vendor: str) -> _InsertPlan:
    meta = model._meta
    # What Model.save and bulk_create handle and these do not: a parent table, columns
    # the database computes or hands back besides the id.
    if meta.parents or [f.attname for f in meta.db_returning_fields] != [meta.pk.attname]:
        raise TypeError(f"{meta.label}: not a plain one-table model")
    fields = [
        f
        for f in meta.local_concrete_fields
        if f is not meta.auto_field and not getattr(f, "generated", False)
    ]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608 - names from the model
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    returning = f" RETURNING {quote(meta.pk.column)}"
    if any(f.attname == "public_id" for f in fields):
        returning += f", {quote('public_id')}"
    return _InsertPlan(
        head,
        "(" + ", ".join(["%s"] * len(fields)) + ")",
        fields,
        returning,
        [_plain_type(f) for f in fields],
    )


def _params(plan: _InsertPlan, obj: models.Model) -> list[Any]:
    # As Model.save: a related object saved after it was assigned lends its id, an
    # unsaved one is refused; pre_save(add=True) sets auto_now stamps on the object too.
    obj._prepare_related_fields_for_save(operation_name="save")
    values = []
    for field, plain in zip(plan.fields, plan.plain, strict=True):
        value = field.pre_save(obj, True)
        if plain is None or (value is not None and type(value) is not plain):
            value = field.get_db_prep_save(value, connection)
        values.append(value)
    return values


def _saved(obj: models.Model, pk: Any) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_one(obj: M) -> M:
    """INSERT ``obj`` (a new instance of a plain one-table model) and set its id.

    What ``obj.save()`` does for a new row, with the statement built once per process:
    fields' ``pre_save`` (``auto_now``), their database forms, the id handed back. No
    ``pre_save``/``post_save`` signals are sent (none is connected to the models this
    is used for; ``bulk_create`` sends none either). Database errors are Django's
    (``IntegrityError``) as with ``save``.
    """
    plan = _insert_plan(type(obj), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(plan.head + plan.row + plan.returning, _params(plan, obj))
        pk = cursor.fetchone()[0]
    _saved(obj, pk)
    return obj


def insert_many(objs: list[M], *, ids: bool = True, ignore_conflicts: bool = False) -> list[M]:
    """INSERT new instances of one model in one statement (a few for very many).

    ``bulk_create`` without its per-call query building. The ids come back with each
    row's ``public_id`` and are matched by it: SQLite does not promise that
    ``RETURNING`` hands rows back in the order of the ``VALUES``. With ``ids=False``
    (rows nobody reads back, such as many-to-many links) nothing comes back and the
    model needs no ``public_id``; the objects keep no id, as ``bulk_create``'s on a
    database that cannot return them. ``ignore_conflicts`` (only with ``ids=False``:
    a skipped row has no id to hand back) skips rows a unique constraint already holds,
    as ``bulk_create(ignore_conflicts=True)`` does.
    """
    if ignore_conflicts and ids:
        raise TypeError("ignore_conflicts needs ids=False: a skipped row has no id")
    if not objs:
        return objs
    plan = _insert_plan(type(objs[0]), connection.vendor)
    if not ids:
        # Both backends spell it so (SQLite since 3.24); a conflict on any unique
        # constraint skips the row.
        tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        per = max(1, (connection.features.max_query_params or 30000) // len(plan.fields))
        with connection.cursor() as cursor:
            for start in range(0, len(objs), per):
                batch = objs[start : start + per]
                cursor.execute(
                    plan.head + ", ".join([plan.row] * len(batch)) + tail,
                    [value for obj in batch for value in _params(plan, obj)],
                )
        return objs
    if not plan.returning.endswith(connection.ops.quote_name("public_id")):
        raise TypeError("insert_many needs a public_id to match the ids back")
    per = max(1, (connection.features.max_query_params or 30000) // len(plan.fields))
    ids: dict[uuid.UUID, Any] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per):
            batch = objs[start : start + per]
            cursor.execute(
                plan.head + ", ".join([plan.row] * len(batch)) + plan.returning,
                [value for obj in batch for value in _params(plan, obj)],
            )
            for pk, public_id in cursor.fetchall():
                key = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(public_id)
                ids[key] = pk
    for obj in objs:
        _saved(obj, ids[obj.public_id])  # type: ignore[attr-defined]
    return objs
