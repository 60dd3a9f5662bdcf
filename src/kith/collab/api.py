"""HTTP API for kith.collab (thin: parse, check access, call a service or query, serialise).

Feeds are addressed by the generic reference ``/feeds/{kind}/{public_id}`` where kind
is ``person``, ``organization``, ``group`` or any ``app_label.model`` (``sales.deal``).
"""

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kith.accounts.models import User
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.pagination import clamp_limit

from . import access, queries, services
from .models import (
    Comment,
    Follow,
    Group,
    Membership,
    Notification,
    NotificationSettings,
    Post,
    Topic,
)

router = Router(tags=["collab"])


# ---------------------------------------------------------------- schemas


class PageQuery(Schema):
    cursor: str | None = None
    limit: int | None = None


class FeedQuery(PageQuery):
    filter: str = "all"


class PostIn(Schema):
    body: str
    visibility: str | None = None
    group: uuid.UUID | None = None


class BodyIn(Schema):
    body: str


class ReactionIn(Schema):
    emoji: str


class FollowIn(Schema):
    event_types: list[str] = []
    follower: str | None = None  # a username: staff invite another user


class FollowPatch(Schema):
    muted: bool | None = None
    event_types: list[str] | None = None


class GroupIn(Schema):
    name: str
    description: str = ""
    privacy: str = "public"
    kind: str = "internal"


class GroupPatch(Schema):
    name: str | None = None
    description: str | None = None
    privacy: str | None = None


class InviteIn(Schema):
    username: str


class AnswerIn(Schema):
    accept: bool


class RoleIn(Schema):
    role: str


class ReadIn(Schema):
    ids: list[uuid.UUID] | None = None


class SettingsIn(Schema):
    email_digest: str


class NotificationQuery(PageQuery):
    unread: bool = False


# ---------------------------------------------------------------- serialisers


def _user(user: User | None, viewer) -> dict[str, Any] | None:
    """A user as ``viewer`` may read them: a customer never learns another member's
    e-mail address from a username (``User.username_shown_to``)."""
    if user is None:
        return None
    return {
        "id": str(user.public_id),
        "username": user.username_shown_to(viewer),
        "name": user.public_name,
        "external": user.is_portal,
    }


def _attachment(att) -> dict[str, Any]:
    row = att if isinstance(att, dict) else att.__dict__
    return {
        "id": str(row["public_id"]),
        "name": row["name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "url": f"/collab/attachments/{row['public_id']}/",
    }


def _topics(post: Post) -> list[str]:
    found = getattr(post, "topic_slugs", None)
    return found if found is not None else sorted(t.slug for t in post.topics.all())


def _attachments(post: Post) -> list:
    found = getattr(post, "attachment_list", None)
    return found if found is not None else list(post.attachments.filter(comment__isnull=True))


def _comment(c: Comment, viewer) -> dict[str, Any]:
    return {
        "id": str(c.public_id),
        "author": _user(c.author, viewer),
        "body": c.body_markdown,
        "html": c.body_html,
        "created_at": c.created_at,
        "edited_at": c.edited_at,
    }


def post_out(post: Post, user) -> dict[str, Any]:
    info = queries.target_info(post)
    return {
        "id": str(post.public_id),
        "kind": post.kind,
        "target": info.__dict__ if info else None,
        "author": _user(post.author, user),
        "body": post.body_markdown,
        "html": post.body_html,
        "visibility": post.visibility,
        "group": str(post.group.public_id) if post.group_id else None,
        "topics": _topics(post),
        "attachments": [_attachment(a) for a in _attachments(post)],
        "reactions": queries.reaction_summary(post, user),
        "comment_count": post.comment_count,
        "created_at": post.created_at,
        "edited_at": post.edited_at,
    }


def _page(page, user) -> dict[str, Any]:
    return {"items": [post_out(p, user) for p in page.items], "next_cursor": page.next_cursor}


def _follow(f: Follow, viewer) -> dict[str, Any]:
    return {
        "id": str(f.public_id),
        "target_type": f"{f.target_type.app_label}.{f.target_type.model}",
        "target_id": f.target_id,
        "follower": _user(f.follower, viewer),
        "event_types": f.event_types,
        "is_external": f.is_external,
        "muted": f.muted,
        "reason": f.reason,
    }


def _group(g: Group, user) -> dict[str, Any]:
    m = access.membership(user, g)
    return {
        "id": str(g.public_id),
        "name": g.name,
        "slug": g.slug,
        "description": g.description,
        "privacy": g.privacy,
        "kind": g.kind,
        "membership": {"status": m.status, "role": m.role} if m else None,
    }


def _member(m: Membership, viewer) -> dict[str, Any]:
    return {"user": _user(m.user, viewer), "role": m.role, "status": m.status}


def _notification(n: Notification, viewer) -> dict[str, Any]:
    return {
        "id": str(n.public_id),
        "verb": n.verb,
        "text": n.text,
        "url": n.url,
        "actor": _user(n.actor, viewer),
        "post": str(n.post.public_id) if n.post_id else None,
        "read": n.read_at is not None,
        "created_at": n.created_at,
    }


def _post_for_change(request, public_id) -> Post:
    return access.get_post(request.user, public_id)


def _comment_obj(request, public_id: uuid.UUID) -> Comment:
    comment = (
        Comment.objects.select_related("post", "author")
        .filter(public_id=public_id, deleted_at__isnull=True)
        .first()
    )
    if comment is None or not access.can_see_post(request.user, comment.post):
        raise NotFound("No such comment.")
    return comment


def _user_by_name(username: str, field: str = "username") -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationFailed.single(field, "No active user with that username.")
    return user


# ---------------------------------------------------------------- feeds and posts


@router.get("/feed", url_name="collab_my_feed")
def my_feed(request: HttpRequest, query: Query[FeedQuery]):
    """My feed: what I follow, my groups and mentions of me; ``filter`` = all|mentions|records|groups."""
    access.require_login(request.user)
    page = queries.my_feed(
        request.user, filter=query.filter, cursor=query.cursor, limit=clamp_limit(query.limit, 20)
    )
    return _page(page, request.user)


@router.get("/feeds/{kind}/{public_id}", url_name="collab_record_feed")
def record_feed(request: HttpRequest, kind: str, public_id: uuid.UUID, query: Query[PageQuery]):
    target = access.get_target(request.user, kind, public_id)
    page = queries.record_feed(
        request.user, target, cursor=query.cursor, limit=clamp_limit(query.limit, 20)
    )
    return _page(page, request.user)


@router.post("/feeds/{kind}/{public_id}/posts", response={201: dict}, url_name="collab_create_post")
@idempotent
def create_post(request: HttpRequest, kind: str, public_id: uuid.UUID, payload: PostIn):
    target = access.get_target(request.user, kind, public_id)
    group = access.get_group(request.user, payload.group) if payload.group else None
    post = services.create_post(
        actor=request.user,
        target=target,
        body=payload.body,
        visibility=payload.visibility,
        group=group,
    )
    return Status(201, post_out(post, request.user))


@router.get("/feeds/{kind}/{public_id}/followers", url_name="collab_followers")
def list_followers(request: HttpRequest, kind: str, public_id: uuid.UUID):
    target = access.get_target(request.user, kind, public_id)
    if access.is_external(request.user):
        raise NotFound("Not found.")
    return {"items": [_follow(f, request.user) for f in queries.followers(target)]}


@router.post("/feeds/{kind}/{public_id}/follow", response={200: dict, 201: dict})
def follow(request: HttpRequest, kind: str, public_id: uuid.UUID, payload: FollowIn):
    """Follow the record (or, for staff, add ``follower`` — e.g. invite a customer)."""
    target = access.get_target(request.user, kind, public_id)
    follower = _user_by_name(payload.follower, "follower") if payload.follower else None
    row, created = services.follow(
        actor=request.user, target=target, follower=follower, event_types=payload.event_types
    )
    return Status(201 if created else 200, _follow(row, request.user))


@router.delete("/feeds/{kind}/{public_id}/follow", response={204: None})
def unfollow(request: HttpRequest, kind: str, public_id: uuid.UUID):
    target = access.get_target(request.user, kind, public_id)
    if not services.unfollow(actor=request.user, target=target):
        raise NotFound("You do not follow this record.")
    return Status(204, None)


@router.get("/follows", url_name="collab_my_follows")
def my_follows(request: HttpRequest, query: Query[PageQuery]):
    from kith.core.pagination import paginate

    access.require_login(request.user)
    page = paginate(
        Follow.objects.filter(follower=request.user).select_related("target_type", "follower"),
        order=("-id",),
        cursor=query.cursor,
        limit=clamp_limit(query.limit),
    )
    return {
        "items": [_follow(f, request.user) for f in page.items],
        "next_cursor": page.next_cursor,
    }


@router.patch("/follows/{public_id}")
def update_follow(request: HttpRequest, public_id: uuid.UUID, payload: FollowPatch):
    row = Follow.objects.filter(public_id=public_id, follower=request.user).first()
    if row is None:
        raise NotFound("No such follow.")
    row = services.update_follow(
        actor=request.user, follow_row=row, muted=payload.muted, event_types=payload.event_types
    )
    return _follow(row, request.user)


@router.get("/posts/{public_id}", url_name="collab_get_post")
def get_post(request: HttpRequest, public_id: uuid.UUID):
    return post_out(access.get_post(request.user, public_id), request.user)


@router.patch("/posts/{public_id}")
def edit_post(request: HttpRequest, public_id: uuid.UUID, payload: BodyIn):
    post = services.edit_post(
        actor=request.user, post=_post_for_change(request, public_id), body=payload.body
    )
    return post_out(post, request.user)


@router.delete("/posts/{public_id}", response={204: None})
def delete_post(request: HttpRequest, public_id: uuid.UUID):
    services.delete_post(actor=request.user, post=_post_for_change(request, public_id))
    return Status(204, None)


@router.get("/posts/{public_id}/revisions")
def post_revisions(request: HttpRequest, public_id: uuid.UUID):
    post = access.get_post(request.user, public_id)
    return {
        "items": [
            {
                "body": r.body_markdown,
                "edited_by": _user(r.edited_by, request.user),
                "created_at": r.created_at,
            }
            for r in post.revisions.select_related("edited_by")
        ]
    }


@router.get("/posts/{public_id}/comments")
def list_comments(request: HttpRequest, public_id: uuid.UUID):
    post = access.get_post(request.user, public_id)
    rows = post.comments.filter(deleted_at__isnull=True).select_related("author")
    return {"items": [_comment(c, request.user) for c in rows]}


@router.post("/posts/{public_id}/comments", response={201: dict})
@idempotent
def create_comment(request: HttpRequest, public_id: uuid.UUID, payload: BodyIn):
    post = access.get_post(request.user, public_id)
    comment = services.create_comment(actor=request.user, post=post, body=payload.body)
    return Status(201, _comment(comment, request.user))


@router.patch("/comments/{public_id}")
def edit_comment(request: HttpRequest, public_id: uuid.UUID, payload: BodyIn):
    comment = services.edit_comment(
        actor=request.user, comment=_comment_obj(request, public_id), body=payload.body
    )
    return _comment(comment, request.user)


@router.delete("/comments/{public_id}", response={204: None})
def delete_comment(request: HttpRequest, public_id: uuid.UUID):
    services.delete_comment(actor=request.user, comment=_comment_obj(request, public_id))
    return Status(204, None)


@router.post("/posts/{public_id}/reactions", response={200: dict, 201: dict})
def add_reaction(request: HttpRequest, public_id: uuid.UUID, payload: ReactionIn):
    post = access.get_post(request.user, public_id)
    _, created = services.react(actor=request.user, post=post, emoji=payload.emoji)
    return Status(
        201 if created else 200, {"reactions": queries.reaction_summary(post, request.user)}
    )


@router.delete("/posts/{public_id}/reactions/{emoji}", response={204: None})
def remove_reaction(request: HttpRequest, public_id: uuid.UUID, emoji: str):
    post = access.get_post(request.user, public_id)
    if not services.unreact(actor=request.user, post=post, emoji=emoji):
        raise NotFound("No such reaction.")
    return Status(204, None)


@router.post("/posts/{public_id}/attachments", response={201: dict})
def add_attachment(request: HttpRequest, public_id: uuid.UUID, file: File[UploadedFile]):
    post = access.get_post(request.user, public_id)
    att = services.add_attachment(actor=request.user, upload=file, post=post)
    return Status(201, _attachment(att))


# ---------------------------------------------------------------- topics


@router.get("/topics")
def list_topics(request: HttpRequest, q: str = ""):
    access.require_login(request.user)
    qs = Topic.objects.all()
    if q.strip():
        qs = qs.filter(slug__startswith=q.strip().lstrip("#").lower())
    return {"items": [{"slug": t.slug, "name": t.name} for t in qs[:50]]}


@router.get("/topics/{slug}/posts")
def topic_posts(request: HttpRequest, slug: str, query: Query[PageQuery]):
    access.require_login(request.user)
    topic = Topic.objects.filter(slug=slug.lower()).first()
    if topic is None:
        raise NotFound("No such topic.")
    page = queries.topic_posts(
        request.user, topic, cursor=query.cursor, limit=clamp_limit(query.limit, 20)
    )
    return _page(page, request.user)


# ---------------------------------------------------------------- groups


@router.get("/groups")
def list_groups(request: HttpRequest):
    access.require_login(request.user)
    return {"items": [_group(g, request.user) for g in access.scope_groups(request.user)]}


@router.post("/groups", response={201: dict})
@idempotent
def create_group(request: HttpRequest, payload: GroupIn):
    group = services.create_group(actor=request.user, **payload.model_dump())
    return Status(201, _group(group, request.user))


@router.get("/groups/{public_id}")
def get_group(request: HttpRequest, public_id: uuid.UUID):
    return _group(access.get_group(request.user, public_id), request.user)


@router.patch("/groups/{public_id}")
def update_group(request: HttpRequest, public_id: uuid.UUID, payload: GroupPatch):
    group = access.get_group(request.user, public_id)
    group = services.update_group(
        actor=request.user, group=group, **payload.model_dump(exclude_unset=True)
    )
    return _group(group, request.user)


@router.get("/groups/{public_id}/members")
def list_members(request: HttpRequest, public_id: uuid.UUID):
    group = access.get_group(request.user, public_id)
    return {"items": [_member(m, request.user) for m in queries.members(group)]}


@router.post("/groups/{public_id}/join")
def join_group(request: HttpRequest, public_id: uuid.UUID):
    group = access.get_group(request.user, public_id)
    return _member(services.join_group(actor=request.user, group=group), request.user)


@router.post("/groups/{public_id}/leave", response={204: None})
def leave_group(request: HttpRequest, public_id: uuid.UUID):
    group = access.get_group(request.user, public_id)
    services.leave_group(actor=request.user, group=group)
    return Status(204, None)


@router.post("/groups/{public_id}/invitations", response={201: dict})
def invite(request: HttpRequest, public_id: uuid.UUID, payload: InviteIn):
    group = access.get_group(request.user, public_id)
    row = services.invite(actor=request.user, group=group, user=_user_by_name(payload.username))
    return Status(201, _member(row, request.user))


@router.post("/groups/{public_id}/invitation")
def answer_invitation(request: HttpRequest, public_id: uuid.UUID, payload: AnswerIn):
    group = access.get_group(request.user, public_id)
    row = services.respond_invitation(actor=request.user, group=group, accept=payload.accept)
    return _member(row, request.user)


@router.patch("/groups/{public_id}/members/{username}")
def set_member_role(request: HttpRequest, public_id: uuid.UUID, username: str, payload: RoleIn):
    group = access.get_group(request.user, public_id)
    row = services.set_member_role(
        actor=request.user, group=group, user=_user_by_name(username), role=payload.role
    )
    return _member(row, request.user)


@router.delete("/groups/{public_id}/members/{username}", response={204: None})
def remove_member(request: HttpRequest, public_id: uuid.UUID, username: str):
    group = access.get_group(request.user, public_id)
    services.leave_group(actor=request.user, group=group, user=_user_by_name(username))
    return Status(204, None)


# ---------------------------------------------------------------- notifications


@router.get("/notifications")
def list_notifications(request: HttpRequest, query: Query[NotificationQuery]):
    access.require_login(request.user)
    page = queries.notifications(
        request.user, unread=query.unread, cursor=query.cursor, limit=clamp_limit(query.limit, 30)
    )
    return {
        "items": [_notification(n, request.user) for n in page.items],
        "next_cursor": page.next_cursor,
        "unread": queries.unread_count(request.user),
    }


@router.get("/notifications/unread-count")
def unread_count(request: HttpRequest):
    access.require_login(request.user)
    return {"unread": queries.unread_count(request.user)}


@router.post("/notifications/read")
def mark_read(request: HttpRequest, payload: ReadIn):
    access.require_login(request.user)
    count = services.mark_read(actor=request.user, ids=payload.ids)
    return {"marked": count, "unread": queries.unread_count(request.user)}


@router.get("/notifications/settings")
def get_settings(request: HttpRequest):
    access.require_login(request.user)
    row = NotificationSettings.objects.filter(user=request.user).first()
    return {"email_digest": row.email_digest if row else NotificationSettings.Digest.DAILY}


@router.patch("/notifications/settings")
def update_settings(request: HttpRequest, payload: SettingsIn):
    access.require_login(request.user)
    row = services.set_email_digest(actor=request.user, mode=payload.email_digest)
    return {"email_digest": row.email_digest}
