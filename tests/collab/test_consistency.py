"""``kith check`` on posts: a comment counter out of step with the comments is reported
and repaired; deleting one comment twice (two requests at once) decrements it once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from kith.collab import consistency, services
from kith.collab.models import Comment, Post
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def _check(*args: str) -> int:
    try:
        call_command(
            "check_consistency", "--only", "collab.comment_counts", *args, stdout=io.StringIO()
        )
        return 0
    except SystemExit as exc:
        return exc.code


@pytest.fixture
def post(alice):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(actor=alice, target=ana, body="A post")
    for i in range(3):
        services.create_comment(actor=alice, post=post, body=f"Comment {i}")
    return post


def test_counts_kept_by_the_services_are_consistent(post, alice):
    services.delete_comment(actor=alice, comment=post.comments.first())
    post.refresh_from_db()
    assert post.comment_count == 2
    assert consistency.comment_count_drift() == []
    assert _check() == 0


def test_a_drifted_counter_is_reported_and_repaired(post):
    Post.objects.filter(pk=post.pk).update(comment_count=9)
    [drift] = consistency.comment_count_drift()
    assert drift.detail == "comment_count stored 9, counted 3"
    assert _check() == 1
    assert _check("--fix") == 1
    post.refresh_from_db()
    assert post.comment_count == 3
    assert _check() == 0


def test_deleting_a_comment_twice_counts_once(post, alice):
    comment = post.comments.first()
    stale = Comment.objects.get(pk=comment.pk)  # a second request's copy, loaded before
    services.delete_comment(actor=alice, comment=comment)
    services.delete_comment(actor=alice, comment=stale)
    post.refresh_from_db()
    assert post.comment_count == 2
    assert consistency.comment_count_drift() == []
