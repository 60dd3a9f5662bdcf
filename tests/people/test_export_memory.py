"""The CSV export streams in bounded memory and a few queries per chunk of rows.

Speed is measured outside the tests (see the report of the change); here the two
properties that make it possible: the memory the export allocates does not grow with
the number of rows, and the number of queries grows with chunks, not rows.
"""

from __future__ import annotations

import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kith.core.bulk import insert_rows
from kith.people import exporting
from kith.people.models import ContactPoint, Party
from kith.people.queries import PartyFilters

pytestmark = pytest.mark.django_db


def _add_people(start: int, count: int) -> None:
    """``count`` people with an e-mail and a phone each, written in bulk (fast)."""
    now = timezone.now()
    rows = [
        {
            "kind": "person",
            "given_name": "Person",
            "family_name": f"N{i:06d}",
            "display_name": f"Person N{i:06d}",
            "sort_name": f"n{i:06d} person",
            "notes": "Met at the fair; wants a quote " * 3,
        }
        for i in range(start, start + count)
    ]
    ids = insert_rows(Party, rows, now, returning_pk=True)
    points = []
    for i, pk in zip(range(start, start + count), ids, strict=True):
        points.append(
            {
                "party_id": pk,
                "channel": "email",
                "value": f"p{i}@example.com",
                "normalized": f"p{i}@example.com",
                "primary": True,
            }
        )
        points.append(
            {
                "party_id": pk,
                "channel": "phone",
                "value": f"+1 202 555 {i:04d}",
                "normalized": f"+1202555{i:04d}",
            }
        )
    insert_rows(ContactPoint, points, now)


def _export_peak(user) -> tuple[int, int]:
    """(rows written, peak bytes allocated while exporting, counted by tracemalloc)."""
    qs = exporting.export_queryset(user, PartyFilters(), kind="person")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        rows = size = 0
        for line in exporting.iter_csv(qs, kind="person"):  # a client reading the stream
            rows += 1
            size += len(line)
        _current, peak = tracemalloc.get_traced_memory()
        assert size > rows * 50
    finally:
        tracemalloc.stop()
    return rows - 1, peak


def test_export_memory_does_not_grow_with_rows(alice, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK_SIZE", 250)
    _add_people(0, 1_000)
    small_rows, small_peak = _export_peak(alice)
    _add_people(1_000, 3_000)
    large_rows, large_peak = _export_peak(alice)
    assert (small_rows, large_rows) == (1_000, 4_000)
    # Four times the rows, about the same peak (one chunk and its lookups); holding
    # every row would have added several MB.
    assert large_peak < small_peak * 1.3, (small_peak, large_peak)
    assert large_peak < 8_000_000


def test_export_queries_grow_with_chunks_not_rows(alice, monkeypatch):
    monkeypatch.setattr(exporting, "CHUNK_SIZE", 250)
    _add_people(0, 1_000)
    qs = exporting.export_queryset(alice, PartyFilters(), kind="person")
    with CaptureQueriesContext(connection) as queries:
        lines = list(exporting.iter_csv(qs, kind="person"))
    assert len(lines) == 1_001
    # Set-up (kinds, handle channels, attributes) + per chunk of 250: contact points,
    # tags, roles (the party rows stream through one cursor).
    assert len(queries) <= 6 + 4 * 3, [q["sql"][:80] for q in queries]
    first = lines[1].rstrip("\r\n").split(",")
    assert first[1] == "Person N000000" and "p0@example.com" in first
    assert "+1 202 555 0000" in first
