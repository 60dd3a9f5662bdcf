"""``bulk.id_set``: a list of ids for ``__in`` sent as one parameter, on both databases."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.core.bulk import id_set
from kith.people.models import Party


def test_id_set_selects_exactly_the_ids_given(db):
    people = [Party.objects.create(kind="person", given_name=f"P{i}") for i in range(5)]
    wanted = [people[0].pk, people[3].pk, people[4].pk, 10**9]  # one id that is nobody
    with CaptureQueriesContext(connection) as queries:
        found = sorted(Party.objects.filter(pk__in=id_set(wanted)).values_list("pk", flat=True))
    assert found == sorted(wanted[:3])
    # One array parameter whatever the number of ids (not one placeholder per id).
    sql = queries.captured_queries[0]["sql"]
    assert ("json_each" if connection.vendor == "sqlite" else "unnest") in sql
    assert list(Party.objects.filter(pk__in=id_set([]))) == []
    # Reusable in several queries, as records_from_parties uses it.
    ids = id_set(p.pk for p in people[:2])
    assert Party.objects.filter(pk__in=ids).count() == 2
    assert Party.objects.filter(pk__in=ids, given_name="P1").count() == 1


def test_id_set_takes_many_more_ids_than_a_statement_has_placeholders(db):
    first = Party.objects.create(kind="person", given_name="First")
    ids = [first.pk, *range(10**9, 10**9 + 70_000)]
    assert list(Party.objects.filter(pk__in=id_set(ids)).values_list("pk", flat=True)) == [first.pk]
