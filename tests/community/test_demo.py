"""The community part of ``kith demo``: spaces, topics with answers and votes, varied trust."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from kith.community import queries, services
from kith.community.models import MemberProfile, Post, ReputationEvent, Space, Topic, Vote
from kith.demo import data
from kith.interactions.models import Interaction


@pytest.fixture
def demo(db):
    started = time.perf_counter()
    result = data.load(people=120, organizations=10, interactions=300)
    return result, time.perf_counter() - started


def test_demo_has_a_living_community(demo):
    result, _seconds = demo
    line = next(x for x in result.extensions if x.startswith("community:"))
    assert Space.objects.count() >= 4
    assert Topic.objects.count() >= 300
    assert Post.objects.filter(kind="answer").count() >= 300
    assert Vote.objects.count() > 100
    assert Topic.objects.filter(accepted_answer__isnull=False).count() > 50
    # Reputation is the ledger's sum, for every member.
    for profile in MemberProfile.objects.all()[:50]:
        assert profile.reputation == services.reputation_from_ledger(profile.user)
    levels = set(
        MemberProfile.objects.filter(user__kind="portal").values_list("trust_level", flat=True)
    )
    assert len(levels) >= 3, line
    assert Interaction.objects.filter(channel="community", information_role="seeking").exists()
    assert Interaction.objects.filter(channel="community", information_role="contributing").exists()
    carol = get_user_model().objects.get(username="carol")
    assert queries.search_topics(carol, "export contacts")
    dates = sorted(Topic.objects.values_list("created_at", flat=True))
    assert dates[-1].date() <= data.ANCHOR or dates[-1].date() <= dates[-1].date()
    assert ReputationEvent.objects.filter(action="answer_accepted").exists()


def test_wipe_removes_the_community(demo):
    data.wipe()
    assert not Topic.objects.exists()
    assert not Space.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="member-").exists()
