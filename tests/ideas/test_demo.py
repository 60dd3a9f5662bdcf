"""The ideas part of ``kith demo``: ideas in every status with votes, fast, and wiped."""

from __future__ import annotations

import time

import pytest

from kith.demo import data
from kith.ideas.models import Category, Idea, IdeaContributor, IdeaLink, IdeaVote, Status


@pytest.fixture
def demo(db):
    started = time.perf_counter()
    result = data.load(people=60, organizations=6, interactions=100)
    return result, time.perf_counter() - started


def test_demo_has_ideas_in_every_status_with_votes(demo):
    result, _ = demo
    line = next(x for x in result.extensions if x.startswith("ideas"))
    assert line.startswith("ideas: "), line
    live = Idea.objects.filter(merged_into__isnull=True)
    assert set(live.values_list("status", flat=True)) == set(Status.values)
    assert IdeaVote.objects.count() > 20
    for idea in Idea.objects.all():
        assert idea.vote_count == IdeaVote.objects.filter(idea=idea).count()
    assert Idea.objects.filter(merged_into__isnull=False).count() == 1
    assert IdeaContributor.objects.exists()
    assert Category.objects.filter(vote_budget__isnull=False).exists()
    assert max(live.values_list("created_at", flat=True)).date() <= data.ANCHOR
    assert IdeaLink.objects.exists()


def test_wipe_removes_the_ideas(demo):
    data.wipe()
    assert not Idea.objects.exists() and not Category.objects.exists()
