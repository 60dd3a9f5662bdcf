"""The global search's substring indexes (kith.web.global_search_index): kept in step with
writes, rebuilt when their triggers are lost, and actually used by the query plan."""

from __future__ import annotations

import pytest
from django.db import connection

from kith.sales import services as sales_services
from kith.sales.models import Deal
from kith.web import global_search, global_search_index
from tests.conftest import make_org


def _deal(user, title: str) -> Deal:
    return sales_services.create_deal(
        actor=user, data={"title": title, "organization": make_org(user, f"Org of {title}")}
    )


def _deal_titles(user, q: str) -> list[str]:
    for group in global_search.search_everything(user, q):
        if group.key == "deals":
            return [h.title for h in group.hits]
    return []


def test_inserts_updates_and_deletes_reach_the_index(alice):
    deal = _deal(alice, "Quokka fleet renewal")
    assert _deal_titles(alice, "okka") == ["Quokka fleet renewal"]  # any part of a word
    assert _deal_titles(alice, "QUOKKA renew") == ["Quokka fleet renewal"]
    assert _deal_titles(alice, "quokka pelican") == []  # every word must match
    Deal.objects.filter(pk=deal.pk).update(title="Pelican expansion")  # a bare UPDATE too
    assert _deal_titles(alice, "quokka") == []
    assert _deal_titles(alice, "pelican") == ["Pelican expansion"]
    Deal.objects.filter(pk=deal.pk).delete()
    assert _deal_titles(alice, "pelican") == []


def test_short_words_are_left_out_and_odd_input_is_harmless(alice):
    _deal(alice, 'Wombat "quoted" 100% deal_x')
    assert global_search_index.words("ab wombat c") == ["wombat"]
    assert _deal_titles(alice, "ab") == []  # nothing indexable: no scan, no hits
    assert _deal_titles(alice, "wo wombat") == ['Wombat "quoted" 100% deal_x']
    for q in ('"quoted"', "100%", "deal_x", 'wombat" OR "x', "NEAR(wombat)", "col:wombat"):
        _deal_titles(alice, q)  # never an FTS syntax error or a LIKE wildcard
    assert _deal_titles(alice, "100%") == ['Wombat "quoted" 100% deal_x']
    assert _deal_titles(alice, "0%d") == []  # % is a character, not a wildcard


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite triggers")
def test_lost_triggers_are_recreated_and_the_index_rebuilt(alice):
    spec = global_search_index.INDEXED["deal"]
    with connection.cursor() as cursor:
        for name in spec.triggers:
            cursor.execute(f"DROP TRIGGER {name}")
    # Written while no trigger watched (as after a table rebuild by a migration).
    _deal(alice, "Platypus pilot")
    assert _deal_titles(alice, "platypus") == []
    assert "deal" in global_search_index.ensure_indexes()
    assert _deal_titles(alice, "platypus") == ["Platypus pilot"]
    assert global_search_index.ensure_indexes() == []  # all there: nothing to do


def test_the_match_goes_through_the_index(alice):
    qs = global_search_index.match(Deal.objects.all(), "deal", "quokka fleet")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "VIRTUAL TABLE INDEX" in plan and "gsearch_deal_fts" in plan, plan
        else:
            # A GIN index is read by bitmap scans only; with plain scans off, the planner
            # cannot walk another index in the order wanted and filter (it did, on a
            # table this small), so the plan shows whether the trigram index serves it.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "gsearch_deal_trgm" in plan, plan
