"""The engagement queue is read through its index, never by sorting the table.

At a million mentions a full scan and sort costs seconds where the index range costs
milliseconds (benchmarks/listening.py). SQLite only uses the index when the open filter
is an equality it can match (``is_open IN (1)``), not the bare column Django writes for
``is_open=True``: the plan is checked here, for the API's queue and the web queue.
"""

from __future__ import annotations

import pytest
from django.db import connection

from kith.listening import queries
from kith.listening.views import queue_filters, queue_queryset

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the plan checked is SQLite's (EXPLAIN QUERY PLAN)"
)


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_the_api_queue_is_an_index_range_in_order(alice, bob):
    for user, filters in (
        (alice, queries.MentionFilters()),
        (bob, queries.MentionFilters()),
        (bob, queries.MentionFilters(assignee="me")),
    ):
        plan = _plan(queries.queue(user, filters).order_by(*queries.QUEUE_ORDER)[:51])
        assert "USING INDEX lst_mention_" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_the_web_queue_is_an_index_range_in_order(rf, alice):
    filters = queue_filters(rf.get("/listening/queue/"))
    plan = _plan(queue_queryset(alice, filters)[:51])
    assert "USING INDEX lst_mention_queue" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
