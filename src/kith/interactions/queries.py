"""The timeline of a person or organisation: interactions and transactions, newest first.

Both tables are read with the same keyset ``(occurred_at, id)`` descending and merged,
so a page costs two index range scans whatever its depth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from kith.core.errors import ValidationFailed
from kith.core.pagination import decode_cursor, encode_cursor
from kith.interactions import access
from kith.interactions.models import Interaction, Transaction
from kith.people.models import Party, Relationship


@dataclass
class TimelineEntry:
    type: str  # "interaction" | "transaction"
    occurred_at: dt.datetime
    item: Interaction | Transaction

    @property
    def sort_key(self) -> tuple[dt.datetime, int, int]:
        return (self.occurred_at, 1 if self.type == "interaction" else 0, self.item.pk)


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def organization_member_ids(org: Party, *, scope: QuerySet | None = None) -> list[int]:
    """People who ever held any role towards ``org`` (its employees, contacts, partners…).

    ``scope`` (the parties the reader may see) keeps hidden people's touchpoints out.
    """
    rels = Relationship.objects.filter(object=org, subject__kind=Party.Kind.PERSON)
    if scope is not None:
        rels = rels.filter(subject__in=scope.values("pk"))
    return list(rels.values_list("subject_id", flat=True).distinct())


def timeline(
    party: Party,
    *,
    reader: Any,
    cursor: str | None = None,
    limit: int = 50,
    channels: list[str] | None = None,
    include_transactions: bool = True,
    include_interactions: bool = True,
    include_members: bool = True,
    member_scope: QuerySet | None = None,
) -> TimelinePage:
    """One page of ``party``'s timeline as ``reader`` may see it.

    For an organisation it includes its people's, limited to ``member_scope`` (the
    parties the reader may see) when given. Interactions that mirror a record the
    reader may not see (an internal case note, a private deal's event) are left out
    (``kith.interactions.access.visible``).
    """
    party_ids = [party.pk]
    if party.kind == Party.Kind.ORGANIZATION and include_members:
        party_ids += organization_member_ids(party, scope=member_scope)
    after: tuple[dt.datetime, int, int] | None = None
    if cursor:
        values = decode_cursor(cursor)
        try:
            when = parse_datetime(values[0])
            after = (when, int(values[1]), int(values[2]))
        except (IndexError, TypeError, ValueError) as exc:
            raise ValidationFailed.single("cursor", "Not a valid cursor.") from exc
        if when is None:
            raise ValidationFailed.single("cursor", "Not a valid cursor.")
    interactions = (
        Interaction.objects.filter(party_id__in=party_ids)
        if len(party_ids) > 1
        else Interaction.objects.filter(party_id=party.pk)
    )
    if channels:
        interactions = interactions.filter(channel__in=channels)
    entries = []
    if include_interactions:
        entries += [
            TimelineEntry("interaction", i.occurred_at, i)
            for i in _visible_page(reader, interactions, after, limit)
        ]
    if include_transactions:
        txs = Transaction.objects.filter(party_id__in=party_ids)
        entries += [
            TimelineEntry("transaction", t.occurred_at, t) for t in _page(txs, after, 0, limit)
        ]
    entries.sort(key=lambda e: e.sort_key, reverse=True)
    next_cursor = None
    if len(entries) > limit:
        entries = entries[:limit]
        last = entries[-1].sort_key
        next_cursor = encode_cursor([last[0].isoformat(), last[1], last[2]])
    return TimelinePage(entries=entries, next_cursor=next_cursor)


def _visible_page(
    reader: Any, qs: QuerySet, after: tuple[dt.datetime, int, int] | None, limit: int
) -> list[Interaction]:
    """Up to ``limit + 1`` interactions after the cursor that ``reader`` may see: the
    page is read by its index, its mirrored rows checked, and reading goes on (a bounded
    number of batches) while some were hidden."""
    found: list[Interaction] = []
    # A long run of hidden rows (thousands) would end this page early; the bound keeps
    # one request's work finite. The list API hands back a cursor in that case.
    for _ in range(access.MAX_BATCHES * 5):
        rows = _page(qs, after, 1, limit)
        found += access.visible(reader, rows)
        if len(found) > limit or len(rows) <= limit:
            break
        after = (rows[-1].occurred_at, 1, rows[-1].pk)
    return found[: limit + 1]


def _page(
    qs: QuerySet, after: tuple[dt.datetime, int, int] | None, type_rank: int, limit: int
) -> list[Any]:
    """Rows of one table strictly after the cursor in (occurred_at, type, id) descending order."""
    if after is not None:
        when, rank, pk = after
        condition = Q(occurred_at__lt=when)
        if type_rank < rank:
            condition |= Q(occurred_at=when)
        elif type_rank == rank:
            condition |= Q(occurred_at=when, id__lt=pk)
        qs = qs.filter(condition)
    return list(qs.order_by("-occurred_at", "-id")[: limit + 1])
