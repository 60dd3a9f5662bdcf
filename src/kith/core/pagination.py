"""Keyset (cursor) pagination: stable under inserts, fast at any depth.

A cursor is the opaque, URL-safe encoding of the last row's ordering values. Ordering
fields must be non-null and end with a unique field (``id``) so the order is total.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, Q, QuerySet

from kith.core.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 200


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class _CursorEncoder(DjangoJSONEncoder):
    """Datetimes to the microsecond: Django's encoder cuts them to milliseconds, and a
    cursor so rounded skipped rows created within the same millisecond as a page's last."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, cls=_CursorEncoder, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.single("cursor", "Not a valid cursor.") from exc
    if not isinstance(values, list):
        raise ValidationFailed.single("cursor", "Not a valid cursor.")
    return values


def clamp_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.single("limit", f"Must be between 1 and {MAX_LIMIT}.")
    return limit


def _keyset_filter(model: type[Model], order: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in ``order`` (each field may start with '-')."""
    if len(values) != len(order):
        raise ValidationFailed.single("cursor", "Cursor does not match this list.")
    parsed = []
    for spec, raw in zip(order, values, strict=True):
        name = spec.lstrip("-")
        field = model._meta.get_field(name)
        try:
            parsed.append(field.to_python(raw))
        except Exception as exc:
            raise ValidationFailed.single("cursor", "Not a valid cursor.") from exc
    condition = Q()
    for i, spec in enumerate(order):
        name = spec.lstrip("-")
        op = "lt" if spec.startswith("-") else "gt"
        step = Q(**{f"{name}__{op}": parsed[i]})
        for j in range(i):
            step &= Q(**{order[j].lstrip("-"): parsed[j]})
        condition |= step
    # Implied by the OR above, but it gives the database a range on the first ordering
    # field: without it SQLite answered the OR by collecting every row after the cursor
    # and sorting them (1.8 s for a page 6,000 rows deep into 100,000 people), instead
    # of reading the index in order up to the page's end.
    first = order[0].lstrip("-")
    bound = "lte" if order[0].startswith("-") else "gte"
    return Q(**{f"{first}__{bound}": parsed[0]}) & condition


def paginate(queryset: QuerySet, *, order: tuple[str, ...], cursor: str | None, limit: int) -> Page:
    """One page of ``queryset`` in ``order`` after ``cursor``."""
    qs = queryset.order_by(*order)
    if cursor:
        qs = qs.filter(_keyset_filter(queryset.model, order, decode_cursor(cursor)))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, spec.lstrip("-")) for spec in order])
    return Page(items=rows, next_cursor=next_cursor)
