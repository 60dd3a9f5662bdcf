"""The collaboration part of ``kith demo``: groups, posts with mentions and topics, follows."""

from __future__ import annotations

import pytest

from kith.accounts.models import User
from kith.collab import access, queries
from kith.collab.models import Comment, Follow, Group, Mention, Post, Topic
from kith.demo import data


@pytest.fixture
def demo(db):
    return data.load(people=60, organizations=8, interactions=300)


def test_demo_has_groups_posts_mentions_topics_and_follows(demo):
    line = next(x for x in demo.extensions if "posts" in x and "groups" in x)
    assert "in 3 groups" in line
    assert set(Group.objects.values_list("kind", flat=True)) == {"internal", "partner", "customer"}
    assert Post.objects.filter(kind="post").count() >= 20
    assert Comment.objects.exists() and Mention.objects.exists()
    assert Topic.objects.filter(slug__in=["pricing", "renewal", "feedback"]).count() == 3
    assert Follow.objects.filter(follower__username="bob").count() >= 10
    bob = User.objects.get(username="bob")
    assert len(queries.my_feed(bob, limit=50).items) >= 10
    # The customer sees the council's posts and never an internal one.
    carol = User.objects.get(username="carol")
    council = Group.objects.get(kind="customer")
    assert access.is_member(carol, council)
    mine = queries.my_feed(carol, limit=100).items
    assert mine and all(p.visibility != "internal" for p in mine)
    dates = sorted(Post.objects.values_list("created_at", flat=True))
    assert dates[-1].date() <= data.ANCHOR


def test_wipe_removes_the_collaboration_data(demo):
    data.wipe()
    assert not Post.objects.exists()
    assert not Group.objects.exists()
    assert not Follow.objects.exists()
