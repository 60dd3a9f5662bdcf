"""Ranking: votes, the recency-decayed hot score, and a pluggable scorer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.core.errors import ValidationFailed
from kith.ideas import queries, ranking, services
from kith.ideas.models import Idea
from tests.ideas.conftest import portal_user

pytestmark = pytest.mark.django_db


def _ideas(carol, category, n):
    return [
        services.create_idea(actor=carol, title=f"Idea {i}", body="b", category=category)
        for i in range(n)
    ]


def test_hot_score_decays_with_age():
    now = timezone.now()
    fresh = ranking.hot_score(3, now - dt.timedelta(hours=1), now)
    old = ranking.hot_score(30, now - dt.timedelta(days=30), now)
    assert fresh > old
    assert ranking.hot_score(5, now, now) > ranking.hot_score(4, now, now)


def test_rank_by_votes_and_hot(carol, category):
    old, fresh = _ideas(carol, category, 2)
    for i in range(5):
        services.vote(actor=portal_user(f"v{i}"), idea=old)
    services.vote(actor=portal_user("w0"), idea=fresh)
    Idea.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=60))
    by_votes = queries.list_ideas(carol, rank="votes").items
    assert [i.pk for i in by_votes] == [old.pk, fresh.pk]
    hot = queries.list_ideas(carol, rank="hot").items
    assert [i.pk for i in hot] == [fresh.pk, old.pk]


def test_a_registered_scorer_ranks_without_idea_code_changes(carol, category):
    ideas = _ideas(carol, category, 3)
    wanted = {ideas[1].pk: 10, ideas[2].pk: 5, ideas[0].pk: 1}
    ranking.register("dummy_clv", lambda rows: {r.pk: wanted[r.pk] for r in rows}, label="CLV")
    try:
        page = queries.list_ideas(carol, rank="dummy_clv", limit=2)
        assert [i.pk for i in page.items] == [ideas[1].pk, ideas[2].pk]
        rest = queries.list_ideas(carol, rank="dummy_clv", limit=2, cursor=page.next_cursor)
        assert [i.pk for i in rest.items] == [ideas[0].pk] and rest.next_cursor is None
    finally:
        ranking.unregister("dummy_clv")
    with pytest.raises(ValidationFailed) as exc:
        queries.list_ideas(carol, rank="dummy_clv")
    assert exc.value.errors[0].field == "rank"


def test_value_ranking_is_for_staff_only(carol, bob, category):
    _ideas(carol, category, 1)
    assert queries.list_ideas(bob, rank="value").items
    with pytest.raises(ValidationFailed):
        queries.list_ideas(carol, rank="value")


def test_votes_pagination_walks_every_idea_once(carol, category):
    made = _ideas(carol, category, 5)
    seen, cursor = [], None
    while True:
        page = queries.list_ideas(carol, rank="votes", limit=2, cursor=cursor)
        seen += [i.pk for i in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(i.pk for i in made)
