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
from kith.core.pagination import Page, decode_cursor, encode_cursor, paginate
from kith.people.models import Party

from . import access
from .models import (
    Attachment,
    Comment,
    FeedItem,
    Follow,
    Group,
    Membership,
    Notification,
    Post,
    Reaction,
    Topic,
)

FEED_FILTERS = ("all", "mentions", "records", "groups")
PARTY_FIELDS = (
    "id",
    "public_id",
    "kind",
    "display_name",
    "status",
    "visibility",
    "owner_id",
    "team_id",
)


def _with_details(qs: QuerySet, *, comments: bool = True) -> list[Post]:
    """Posts with what a card or the API shows, in a fixed number of queries.

    Topics, reactions and attachments are read as plain values (no model rows) and kept
    on each post (``topic_slugs``, ``reaction_rows``, ``attachment_list``): a feed page
    is then five cheap queries whatever its length.
    """
    qs = qs.select_related("author", "group", "target_type")
    if comments:
        qs = qs.prefetch_related(
            Prefetch(
                "comments",
                queryset=Comment.objects.filter(deleted_at__isnull=True).select_related("author"),
            )
        )
    posts = list(qs)
    return attach_details(posts)


def attach_details(posts: list[Post]) -> list[Post]:
    ids = [p.pk for p in posts]
    topics: dict[int, list[str]] = {i: [] for i in ids}
    reactions: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    attachments: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for post_id, slug in Post.topics.through.objects.filter(post_id__in=ids).values_list(
            "post_id", "topic__slug"
        ):
            topics[post_id].append(slug)
        for post_id, emoji, user_id in Reaction.objects.filter(post_id__in=ids).values_list(
            "post_id", "emoji", "user_id"
        ):
            reactions[post_id].append((emoji, user_id))
        for row in Attachment.objects.filter(post_id__in=ids, comment__isnull=True).values(
            "post_id", "public_id", "name", "content_type", "size"
        ):
            attachments[row["post_id"]].append(row)
    for post in posts:
        post.topic_slugs = sorted(topics[post.pk])
        post.reaction_rows = reactions[post.pk]
        post.attachment_list = attachments[post.pk]
    return posts


def attach_targets(posts: list[Post]) -> list[Post]:
    """Load the records the posts are about, one query per kind of record."""
    wanted: dict[int, set[int]] = {}
    for post in posts:
        if not hasattr(post, "_target"):
            wanted.setdefault(post.target_type_id, set()).add(post.target_id)
    found: dict[tuple[int, int], Model] = {}
    for ct_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:
            continue
        rows = model._default_manager.filter(pk__in=ids)
        if model is Party:
            # What labels, links and visibility checks need; not the profile or search text.
            rows = rows.only(*PARTY_FIELDS)
        for obj in rows:
            found[(ct_id, obj.pk)] = obj
    for post in posts:
        if not hasattr(post, "_target"):
            post._target = found.get((post.target_type_id, post.target_id))
    return posts


def record_feed(
    user, target: Model, *, cursor: str | None = None, limit: int = 20, comments: bool = False
) -> Page:
    """The posts on ``target``'s feed that ``user`` may see, newest first."""
    ct = ContentType.objects.get_for_model(target)
    qs = access.scope_posts(user, Post.objects.filter(target_type=ct, target_id=target.pk))
    page = paginate(qs.only("id"), order=("-id",), cursor=cursor, limit=limit)
    page.items = _with_details(
        Post.objects.filter(pk__in=[p.pk for p in page.items]).order_by("-id"), comments=comments
    )
    for post in page.items:
        post._target = target
    return page


def my_feed(
    user,
    *,
    filter: str = "all",
    cursor: str | None = None,
    limit: int = 20,
    comments: bool = False,
) -> Page:
    """Everything from what ``user`` follows, their groups and mentions of them.

    Two steps: the page of post ids from the user's feed rows (a covering index scan
    of ``(user, post)`` backwards), then those posts with their details.
    """
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
    if access.is_external(user):
        # Defence in depth: fan-out never writes these, and reads never show them.
        items = items.exclude(post__visibility="internal")
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int):
            raise ValidationFailed.single("cursor", "Not a valid cursor.")
        items = items.filter(post_id__lt=values[0])
    ids = list(items.order_by("-post_id").values_list("post_id", flat=True)[: limit + 1])
    next_cursor = encode_cursor([ids[limit - 1]]) if len(ids) > limit else None
    ids = ids[:limit]
    # Deleting a post removes its feed rows; the filter here covers the moment between.
    posts = {
        p.pk: p
        for p in _with_details(
            Post.objects.filter(pk__in=ids, deleted_at__isnull=True), comments=comments
        )
    }
    return Page(
        items=attach_targets([posts[i] for i in ids if i in posts]), next_cursor=next_cursor
    )


def topic_posts(
    user, topic: Topic, *, cursor: str | None = None, limit: int = 20, comments: bool = False
) -> Page:
    """Posts tagged ``topic`` that ``user`` may see (checked post by post)."""
    qs = access.scope_posts(user, Post.objects.filter(topics=topic))
    out: list[Post] = []
    next_cursor = cursor
    scanned = 0
    while len(out) < limit and scanned < 1000:
        page = paginate(qs.select_related("group"), order=("-id",), cursor=next_cursor, limit=limit)
        scanned += len(page.items)
        for post in page.items:
            if access.can_see_post(user, post) and len(out) < limit:
                out.append(post)
        next_cursor = page.next_cursor
        if next_cursor is None:
            break
    more = next_cursor is not None or len(out) >= limit
    items = _with_details(
        Post.objects.filter(pk__in=[p.pk for p in out]).order_by("-id"), comments=comments
    )
    return Page(items=items, next_cursor=encode_cursor([out[-1].pk]) if out and more else None)


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
    rows = getattr(post, "reaction_rows", None)
    if rows is None:
        rows = list(post.reactions.values_list("emoji", "user_id"))
    counts = Counter(emoji for emoji, _ in rows)
    mine = {emoji for emoji, uid in rows if user is not None and uid == user.pk}
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
