"""Keyset pagination walks every row once, and bad cursors are a 422, not a 500."""

import datetime as dt

import pytest

from kith.core.errors import ValidationFailed
from kith.core.pagination import decode_cursor, encode_cursor, paginate
from kith.people.models import Party
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def test_pages_cover_every_row_once_in_order(alice):
    for i in range(7):
        make_person(alice, given=f"P{i % 3}", family="Same")  # duplicate sort names on purpose
    seen, cursor = [], None
    while True:
        page = paginate(Party.objects.all(), order=("sort_name", "id"), cursor=cursor, limit=3)
        seen += [p.pk for p in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = list(Party.objects.order_by("sort_name", "id").values_list("pk", flat=True))
    assert seen == expected


def test_rows_within_one_millisecond_are_not_skipped(alice):
    """A cursor keeps microseconds: ordering by created_at lost rows made close together."""
    base = dt.datetime(2026, 3, 1, 12, 0, 0, 123_000, tzinfo=dt.UTC)
    people = [make_person(alice, given=f"P{i}", family="Tick") for i in range(4)]
    for i, person in enumerate(people):  # four rows inside the same millisecond
        Party.objects.filter(pk=person.pk).update(created_at=base + dt.timedelta(microseconds=i))
    seen, cursor = [], None
    while True:
        page = paginate(
            Party.objects.filter(family_name="Tick"),
            order=("-created_at", "-id"),
            cursor=cursor,
            limit=1,
        )
        seen += [p.pk for p in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == [p.pk for p in reversed(people)]


def test_cursor_round_trip_and_garbage():
    assert decode_cursor(encode_cursor(["a", 1])) == ["a", 1]
    with pytest.raises(ValidationFailed):
        decode_cursor("%%%not-base64")


def test_api_rejects_bad_cursor_and_limit(alice, api_as):
    api = api_as(alice)
    r = api.get("/api/people", cursor="bm9wZQ")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"
    r = api.get("/api/people", limit=10_000)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "limit"
