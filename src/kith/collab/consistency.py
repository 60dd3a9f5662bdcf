"""Collaboration consistency check for ``kith check``: a post's comment counter.

``Post.comment_count`` is kept by ``services.create_comment`` and
``services.delete_comment`` with F() updates; it must equal the post's comments that
are not deleted.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, F, Q

from kith.collab.models import Comment, Post
from kith.core import consistency
from kith.core.consistency import Drift

NAME = "collab.comment_counts"


def comment_count_drift() -> list[Drift]:
    """Every post whose ``comment_count`` differs from its live comments."""
    with consistency.snapshot():
        rows = list(
            Post.objects.annotate(live=Count("comments", filter=Q(comments__deleted_at=None)))
            .exclude(comment_count=F("live"))
            .values_list("pk", "public_id", "comment_count", "live")
        )
    return [
        Drift(NAME, f"post {public_id}", f"comment_count stored {stored}, counted {live}")
        for _, public_id, stored, live in rows
    ]


def repair_comment_count(*, post_id: int) -> bool:
    """Set one post's counter to its live comments; False when it was right already.

    The post row is locked before counting: a comment being added either committed
    before the lock (and is counted) or applies its F() increment after this commits.
    """
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None:
            return False
        live = Comment.objects.filter(post_id=post_id, deleted_at__isnull=True).count()
        if post.comment_count == live:
            return False
        Post.objects.filter(pk=post_id).update(comment_count=live)
    return True


@consistency.check(NAME, "each post's comment_count equals its live comments")
def check_comment_counts(*, fix: bool) -> list[Drift]:
    found = comment_count_drift()
    if fix:
        for post_id in Post.objects.filter(
            public_id__in=[d.subject.removeprefix("post ") for d in found]
        ).values_list("pk", flat=True):
            repair_comment_count(post_id=post_id)
    return found
