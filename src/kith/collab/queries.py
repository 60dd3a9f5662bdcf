"""Read models: a record's feed, my feed, topic pages, notifications, groups.

"My feed" reads the user's ``FeedItem`` rows backwards on the ``(user, post)`` unique
index and joins each to its post: one index range scan of ``limit + 1`` rows whatever
the number of records followed or posts stored. Filters (mentions, records, groups)
are columns of the same rows. Every list is keyset-paginated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Prefetch, QuerySet

from kith.core.errors import ValidationFailed
from kith.core.pagination import Page, paginate

from . import access
from .models import Comment, FeedItem, Follow, Group, Membership, Notification, Post, Topic

FEED_FILTERS = ("all", "mentions", "records", "groups")


def _with_details(qs: QuerySet) -> QuerySet:
    return qs.select_related("author", "author__person", "group", "target_type").prefetch_related(
        "attachments",
        "topics",
        Prefetch(
            "comments",
            queryset=Comment.objects.filter(deleted_at__isnull=True).select_related("author"),
        ),
        "reactions",
    )


def record_feed(user, target: Model, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The posts on ``target``'s feed that ``user`` may see, newest first."""
    ct = ContentType.objects.get_for_model(target)
    qs = access.scope_posts(user, Post.objects.filter(target_type=ct, target_id=target.pk))
    page = paginate(_with_details(qs), order=("-id",), cursor=cursor, limit=limit)
    return page


def my_feed(user, *, filter: str = "all", cursor: str | None = None, limit: int = 20) -> Page:
    """Everything from what ``user`` follows, their groups and mentions of them."""
    if filter not in FEED_FILTERS:
        raise ValidationFailed.single("filter", f"Must be one of: {', '.join(FEED_FILTERS)}.")
    items = FeedItem.objects.filter(user=user)
    if filter == "mentions":
        items = items.filter(mention=True)
    elif filter == "groups":
        items = items.filter(group_id__isnull=False)
    elif filter == "records":
        group_ct = ContentType.objects.get_for_model(Group)
        items = items.filter(group_id__isnull=True).exclude(target_type_id=group_ct.pk)
    items = items.filter(post__deleted_at__isnull=True)
    if access.is_external(user):
        # Defence in depth: fan-out never writes these, and reads never show them.
        items = items.exclude(post__visibility="internal")
    page = paginate(items.only("post_id"), order=("-post_id",), cursor=cursor, limit=limit)
    ids = [i.post_id for i in page.items]
    posts = {p.pk: p for p in _with_details(Post.objects.filter(pk__in=ids))}
    return Page(items=[posts[i] for i in ids if i in posts], next_cursor=page.next_cursor)


def topic_posts(user, topic: Topic, *, cursor: str | None = None, limit: int = 20) -> Page:
    """Posts tagged ``topic`` that ``user`` may see (checked post by post)."""
    qs = access.scope_posts(user, Post.objects.filter(topics=topic))
    out: list[Post] = []
    next_cursor = cursor
    scanned = 0
    while len(out) < limit and scanned < 1000:
        page = paginate(_with_details(qs), order=("-id",), cursor=next_cursor, limit=limit)
        scanned += len(page.items)
        for post in page.items:
            if access.can_see_post(user, post) and len(out) < limit:
                out.append(post)
        next_cursor = page.next_cursor
        if next_cursor is None:
            break
    from kith.core.pagination import encode_cursor

    more = next_cursor is not None or len(out) >= limit
    return Page(items=out, next_cursor=encode_cursor([out[-1].pk]) if out and more else None)


def notifications(
    user, *, unread: bool = False, cursor: str | None = None, limit: int = 30
) -> Page:
    qs = Notification.objects.filter(user=user).select_related("actor", "post", "group")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return paginate(qs, order=("-id",), cursor=cursor, limit=limit)


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def follow_of(user, target: Model) -> Follow | None:
    ct = ContentType.objects.get_for_model(target)
    return Follow.objects.filter(target_type=ct, target_id=target.pk, follower=user).first()


def followers(target: Model) -> QuerySet:
    ct = ContentType.objects.get_for_model(target)
    return Follow.objects.filter(target_type=ct, target_id=target.pk).select_related("follower")


def members(group: Group) -> QuerySet:
    return group.memberships.select_related("user", "user__person").order_by("status", "id")


def reaction_summary(post: Post, user=None) -> list[dict]:
    counts = Counter(r.emoji for r in post.reactions.all())
    mine = {r.emoji for r in post.reactions.all() if user is not None and r.user_id == user.pk}
    return [{"emoji": e, "count": n, "mine": e in mine} for e, n in sorted(counts.items())]


@dataclass
class TargetInfo:
    kind: str
    public_id: str
    label: str


def target_info(post: Post) -> TargetInfo | None:
    target = access.target_of(post)
    if target is None:
        return None
    return TargetInfo(access.kind_of(target), str(getattr(target, "public_id", "")), str(target))


def my_groups(user) -> QuerySet:
    return Group.objects.filter(
        memberships__user=user, memberships__status=Membership.Status.ACTIVE
    ).order_by("name")
