"""Every write of kith.collab: posts, comments, reactions, attachments, follows, groups,
notifications. Keyword-only, one transaction each, an audit entry, a domain event.

Posting fans out on write: ``FeedItem`` rows for each reader allowed to see the post
(followers of the record, group members, people mentioned, the author). Up to
``KITH_COLLAB_INLINE_FANOUT`` readers are written in the post's transaction; a bigger
audience is handed to the ``fan_out_post`` task so posting stays fast.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from kith.accounts import assignment
from kith.accounts.models import User
from kith.core import audit, events
from kith.core.bulk import insert_rows
from kith.core.context import current_channel
from kith.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from kith.core.models import AuditEntry
from kith.interactions import services as interaction_services
from kith.interactions.models import Channel, Direction
from kith.people import access as people_access
from kith.people.models import Party

from . import access, live, rendering
from .models import (
    Attachment,
    Comment,
    FeedItem,
    Follow,
    Group,
    Membership,
    Mention,
    Notification,
    NotificationSettings,
    Post,
    PostRevision,
    Reaction,
    Topic,
    Visibility,
)

logger = logging.getLogger("kith.collab")

MAX_BODY = 20_000
EMOJI = re.compile(r"^[^\s<>&\"']{1,16}$")
TIMELINE_SOURCE = "kith-collab"
DEFAULT_ATTACHMENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
# Magic numbers of the binary types, so a renamed file cannot pass as another type.
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04",),
}


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attachment_bytes() -> int:
    return int(setting("KITH_COLLAB_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))


def allowed_attachment_types() -> tuple[str, ...]:
    return tuple(setting("KITH_COLLAB_ATTACHMENT_TYPES", DEFAULT_ATTACHMENT_TYPES))


def inline_fanout_limit() -> int:
    return int(setting("KITH_COLLAB_INLINE_FANOUT", 1000))


def system_group_minutes() -> int:
    return int(setting("KITH_COLLAB_SYSTEM_POST_GROUP_MINUTES", 10))


def _ct(obj: models.Model) -> ContentType:
    return ContentType.objects.get_for_model(obj)


def _now():
    return timezone.now()


def _is_user(actor) -> bool:
    return bool(getattr(actor, "pk", None)) and getattr(actor, "is_authenticated", False)


# ---------------------------------------------------------------- body rendering


@dataclass
class Rendered:
    html: str
    users: list[User]
    parties: list[Party]
    topics: list[str]


def _render(body: str, *, author) -> Rendered:
    """Parse mentions and topics, link them, render and sanitise.

    Mentions resolve through ``author``'s access (``access.mentionable_*``): a record
    or login the author may not see keeps the text they typed, shows no name, and
    gets no mention row or notification.
    """
    parsed = rendering.parse(body)
    users: list[User] = []
    by_name: dict[str, tuple[str, str]] = {}
    by_uid: dict[uuid.UUID, tuple[str, str]] = {}
    if parsed.usernames:
        found = User.objects.filter(username__in=parsed.usernames, is_active=True)
        for u in access.mentionable_users(author, found.select_related("person")):
            users.append(u)
            by_name[u.username.lower()] = (u.username, _person_url(u.person))
    if parsed.user_ids:
        found = User.objects.filter(public_id__in=parsed.user_ids, is_active=True)
        for u in access.mentionable_users(author, found.select_related("person")):
            if u not in users:
                users.append(u)
            by_uid[u.public_id] = (u.get_full_name() or u.username, _person_url(u.person))
    parties = list(
        access.mentionable_parties(
            author, Party.objects.filter(public_id__in=parsed.party_ids, status=Party.Status.ACTIVE)
        )
        if parsed.party_ids
        else []
    )
    by_pid = {p.public_id: (p.display_name, _person_url(p)) for p in parties}
    linked = rendering.link_mentions(
        body, parties=by_pid, users_by_id=by_uid, users_by_name=by_name
    )
    return Rendered(rendering.render_markdown(linked), users, parties, parsed.topics)


def _person_url(party: Party | None) -> str:
    if party is None:
        return ""
    return f"/collab/records/{party.kind}/{party.public_id}/"


def _clean_body(body: str, field: str = "body") -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationFailed.single(field, "This field is required.")
    if len(body) > MAX_BODY:
        raise ValidationFailed.single(field, f"At most {MAX_BODY} characters.")
    return body


def _topics(slugs: Iterable[str]) -> list[Topic]:
    out = []
    for slug in slugs:
        topic, _ = Topic.objects.get_or_create(slug=slug[:50], defaults={"name": slug[:50]})
        out.append(topic)
    return out


# ---------------------------------------------------------------- follows


def follow(
    *,
    actor,
    target: models.Model,
    follower: User | None = None,
    event_types: list[str] | None = None,
    reason: str = "manual",
) -> tuple[Follow, bool]:
    """``follower`` (default: the actor) follows ``target``; (follow, created).

    Unique per (record, follower): a database constraint holds it, and a concurrent
    request that loses the race finds the winner's row instead of failing. Staff may add
    another user (an *invitation* of a customer or partner to a record's feed).
    """
    follower = follower or actor
    if not _is_user(follower):
        raise ValidationFailed.single("follower", "A follower must be a user.")
    if actor is not None and follower.pk != getattr(actor, "pk", None):
        # Adding someone else: staff inviting a colleague, customer or partner.
        if access.is_external(actor) or not actor.can_write:
            raise Forbidden("Only staff can add other people as followers.")
        if not access.can_read_feed(actor, target):
            raise NotFound("No such record.")
        if isinstance(target, Group):
            raise ValidationFailed.single("follower", "Invite people to a group instead.")
        if not access.is_external(follower) and not access.can_read_feed(follower, target):
            raise ValidationFailed.single("follower", "That user cannot see this record.")
        # Inviting a customer or partner opens the record's feed to them: managers only.
        assignment.check_external_follower(actor, follower)
    elif not access.can_read_feed(follower, target):
        raise NotFound("No such record.")
    if isinstance(target, Group) and access.may_join(follower, target):
        raise ValidationFailed.single("follower", access.may_join(follower, target))
    types = _clean_event_types(event_types)
    ct = _ct(target)
    existing = Follow.objects.filter(target_type=ct, target_id=target.pk, follower=follower).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row = Follow.objects.create(
                target_type=ct,
                target_id=target.pk,
                follower=follower,
                event_types=types,
                is_external=access.is_external(follower),
                reason=reason[:20],
            )
            audit.record(
                actor=actor,
                action="follow.created",
                obj=row,
                changes={"target": f"{ct.app_label}.{ct.model}:{target.pk}", "reason": reason},
                party_id=target.pk if isinstance(target, Party) else None,
            )
            events.emit(
                "follow.created",
                obj=row,
                actor=actor,
                data={"target_type": ct.model, "follower": follower.pk, "reason": reason},
            )
    except IntegrityError:
        # A concurrent follow of the same record by the same user committed first.
        existing = Follow.objects.filter(
            target_type=ct, target_id=target.pk, follower=follower
        ).first()
        if existing is None:
            raise
        return existing, False
    return row, True


def auto_follow_many(*, target_type: ContentType, pairs: Iterable[tuple[int, int]]) -> int:
    """Automatic follows for many (target id, follower user id) pairs at once; returns
    how many were new.

    The set-wise twin of ``follow(actor=None, reason="auto")`` for bulk work (an
    import's batch of events): the caller has already checked that each follower may
    see its target. Pairs that already follow are skipped, so a redelivered batch adds
    nothing; each new follow gets its audit entry and the ``follow.created`` events
    go out as one batch. A few statements whatever the number of pairs (``insert_rows``:
    a thousand follows cost what a few dozen did through the ORM).
    """
    wanted = set(pairs)
    if not wanted:
        return 0
    target_ids = {t for t, _u in wanted}
    users = {
        pk: (username, kind == User.Kind.PORTAL)
        for pk, username, kind in User.objects.filter(pk__in={u for _t, u in wanted}).values_list(
            "pk", "username", "kind"
        )
    }
    now = timezone.now()
    with transaction.atomic():
        existing = set(
            Follow.objects.filter(
                target_type=target_type, target_id__in=target_ids, follower_id__in=list(users)
            ).values_list("target_id", "follower_id")
        )
        new = sorted(pair for pair in wanted - existing if pair[1] in users)
        if not new:
            return 0
        rows = [
            {
                "target_type_id": target_type.pk,
                "target_id": t,
                "follower_id": u,
                "event_types": [],
                "is_external": users[u][1],
                "reason": "auto",
            }
            for t, u in new
        ]
        ids = insert_rows(Follow, rows, now, returning_pk=True)
        follow_ct = ContentType.objects.get_for_model(Follow)
        is_party = target_type.model_class() is Party
        where = f"{target_type.app_label}.{target_type.model}"
        channel_name = current_channel()
        insert_rows(
            AuditEntry,
            [
                {
                    "occurred_at": now,
                    "actor_id": None,
                    "actor_label": "system",
                    "channel": channel_name,
                    "action": "follow.created",
                    "object_type_id": follow_ct.pk,
                    "object_id": pk,
                    "object_public_id": row["public_id"],
                    # What str(follow) reads, without loading each row back.
                    "object_label": f"{users[row['follower_id']][0]} follows "
                    f"{target_type.model}:{row['target_id']}"[:300],
                    "party_id": row["target_id"] if is_party else None,
                    "changes": {"target": f"{where}:{row['target_id']}", "reason": "auto"},
                }
                for row, pk in zip(rows, ids, strict=True)
            ],
            now,
        )
        events.emit_batch(
            "follow.created",
            object_type=Follow._meta.label_lower,
            items=[
                events.BatchItem(
                    pk,
                    row["public_id"],
                    {"target_type": target_type.model, "follower": row["follower_id"]},
                )
                for row, pk in zip(rows, ids, strict=True)
            ],
            data={"reason": "auto"},
        )
    return len(new)


def _clean_event_types(event_types: list[str] | None) -> list[str]:
    types = []
    for value in event_types or []:
        value = str(value).strip()
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", value):
            raise ValidationFailed.single(
                "event_types", "Use post, comment, system or an event name like deal.stage_changed."
            )
        if value not in types:
            types.append(value)
    return types


def unfollow(*, actor, target: models.Model, follower: User | None = None) -> bool:
    follower = follower or actor
    if follower.pk != actor.pk and not getattr(actor, "sees_everything", False):
        raise Forbidden("You can only unfollow for yourself.")
    ct = _ct(target)
    with transaction.atomic():
        row = Follow.objects.filter(target_type=ct, target_id=target.pk, follower=follower).first()
        if row is None:
            return False
        audit.record(actor=actor, action="follow.deleted", obj=row)
        events.emit("follow.deleted", obj=row, actor=actor, data={"follower": follower.pk})
        row.delete()
        # The record's posts leave the feed, except those that mention the follower.
        FeedItem.objects.filter(
            user=follower, target_type_id=ct.pk, target_id=target.pk, mention=False
        ).delete()
    return True


def update_follow(
    *, actor, follow_row: Follow, muted: bool | None = None, event_types: list[str] | None = None
) -> Follow:
    """Mute or unmute a record, or choose which event types notify."""
    if follow_row.follower_id != actor.pk:
        raise NotFound("No such follow.")
    types = _clean_event_types(event_types) if event_types is not None else None
    changes = {}
    with transaction.atomic():
        # Read-modify-write: start from the row as it is now, under its lock, and
        # write only what this call changes (a concurrent mute must not be undone).
        try:
            _lock_fresh(follow_row)
        except Follow.DoesNotExist:
            raise NotFound("No such follow.") from None
        if muted is not None and muted != follow_row.muted:
            changes["muted"] = [follow_row.muted, muted]
            follow_row.muted = muted
        if types is not None:
            changes["event_types"] = [follow_row.event_types, types]
            follow_row.event_types = types
        fields = [name for name in ("muted", "event_types") if name in changes]
        if fields:
            follow_row.save(update_fields=fields)
        audit.record(actor=actor, action="follow.updated", obj=follow_row, changes=changes)
        events.emit("follow.updated", obj=follow_row, actor=actor, data=changes)
    return follow_row


def mute(*, actor, target: models.Model, muted: bool = True) -> Follow:
    """Mute notifications from one record (following it first if needed)."""
    row, _ = follow(actor=actor, target=target)
    return update_follow(actor=actor, follow_row=row, muted=muted)


# ---------------------------------------------------------------- posts


def _external_interaction(*, author: User, summary: str, related: models.Model, kind: str) -> None:
    """A customer's or partner's post is also a touchpoint on their timeline."""
    if not access.is_external(author) or not author.person_id:
        return
    interaction_services.log_interaction(
        actor=author,
        party=author.person,
        channel=Channel.COLLABORATION,
        direction=Direction.INBOUND,
        kind=kind,
        summary=summary,
        body="",
        source=TIMELINE_SOURCE,
        external_id=f"{kind}:{related.public_id}",
        related=related,
    )


def _summary(text: str, prefix: str = "") -> str:
    flat = " ".join(text.split())
    out = prefix + flat
    return out if len(out) <= 200 else out[:199] + "…"


def _target_label(target: models.Model) -> str:
    return str(target)[:120]


def create_post(
    *,
    actor,
    target: models.Model,
    body: str,
    visibility: str | None = None,
    group: Group | None = None,
) -> Post:
    """Post ``body`` (Markdown) on ``target``'s feed."""
    body = _clean_body(body)
    if isinstance(target, Group):
        group = target
    if visibility is None:
        if access.is_external(actor):
            visibility = Visibility.GROUP if group else Visibility.PUBLIC
        else:
            visibility = Visibility.GROUP if isinstance(target, Group) else Visibility.INTERNAL
    if visibility not in Visibility.values:
        raise ValidationFailed.single("visibility", "Must be internal, group or public.")
    if visibility == Visibility.GROUP and group is None:
        raise ValidationFailed.single("visibility", "A group post needs a group.")
    if visibility != Visibility.GROUP and not isinstance(target, Group):
        group = None
    if isinstance(target, Party) and target.status != Party.Status.ACTIVE:
        raise ValidationFailed.single("target", "That record was merged or erased.")
    access.can_post_on(actor, target, visibility=visibility, group=group)
    rendered = _render(body, author=actor)
    ct = _ct(target)
    with transaction.atomic():
        post = Post.objects.create(
            target_type=ct,
            target_id=target.pk,
            author=actor,
            author_party_id=actor.person_id,
            body_markdown=body,
            body_html=rendered.html,
            visibility=visibility,
            group=group,
        )
        if rendered.topics:
            post.topics.set(_topics(rendered.topics))
        audit.record(
            actor=actor,
            action="post.created",
            obj=post,
            changes={"target": f"{ct.app_label}.{ct.model}:{target.pk}", "visibility": visibility},
            party_id=target.pk if isinstance(target, Party) else None,
        )
        events.emit(
            "post.created",
            obj=post,
            actor=actor,
            data={
                "target_type": f"{ct.app_label}.{ct.model}",
                "target": str(getattr(target, "public_id", target.pk)),
                "visibility": visibility,
            },
        )
        # Posting on a record follows it (as Chatter does), so replies reach the author.
        if not (isinstance(target, Group) and access.may_join(actor, target)):
            follow(actor=actor, target=target, reason="posted")
        mentioned = _record_mentions(
            post=post, comment=None, rendered=rendered, actor=actor, target=target
        )
        _external_interaction(
            author=actor,
            summary=_summary(body, f"Posted on {_target_label(target)}: "),
            related=post,
            kind="post",
        )
        _deliver(
            post,
            target=target,
            actor=actor,
            verb=Notification.Verb.POST,
            skip={u.pk for u in mentioned} | {actor.pk},
            mentioned_ids={u.pk for u in mentioned},
        )
        _publish_post(post, "post")
    return post


def _record_mentions(
    *, post: Post, comment: Comment | None, rendered: Rendered, actor, target
) -> list[User]:
    """Store mentions; notify mentioned users who may see the post; timeline for the rest.

    Returns the users notified (who also get the post in their feed).
    """
    notified: list[User] = []
    seen_users: set[int] = set()
    where = comment or post
    text = comment.body_markdown if comment else post.body_markdown
    users = list(rendered.users)
    for party in rendered.parties:
        user = User.objects.filter(person=party, is_active=True).first()
        Mention.objects.create(post=post, comment=comment, party=party, user=user)
        if user is not None:
            if user.pk not in {u.pk for u in users}:
                users.append(user)
            continue
        # A person without a login: the mention lands on their timeline instead.
        interaction_services.log_interaction(
            actor=actor,
            party=party,
            channel=Channel.COLLABORATION,
            direction=Direction.INTERNAL,
            kind="mention",
            summary=_summary(text, f"Mentioned by {actor.get_username()}: "),
            source=TIMELINE_SOURCE,
            external_id=f"mention:{where.public_id}:{party.public_id}",
            related=post,
        )
    for user in users:
        if user.pk in seen_users:
            continue
        seen_users.add(user.pk)
        if not any(m for m in rendered.parties if m.pk == user.person_id):
            Mention.objects.create(post=post, comment=comment, user=user, party=user.person)
        if user.pk == actor.pk:
            continue
        if not access.can_see_post(user, post, target=target):
            if user.person_id and access.is_external(user):
                # Mentioned in something they may not read: staff see it on the timeline.
                interaction_services.log_interaction(
                    actor=actor,
                    party=user.person,
                    channel=Channel.COLLABORATION,
                    direction=Direction.INTERNAL,
                    kind="mention",
                    summary=_summary(text, f"Mentioned internally by {actor.get_username()}: "),
                    source=TIMELINE_SOURCE,
                    external_id=f"mention:{where.public_id}:{user.person.public_id}",
                    related=post,
                )
            continue
        notify(
            user=user,
            verb=Notification.Verb.MENTION,
            actor=actor,
            post=post,
            comment=comment,
            text=_summary(
                text,
                f"{actor.get_username()} mentioned you on {_target_label(target)}: ",
            ),
        )
        notified.append(user)
    return notified


def _followers(target_type_id: int, target_id: int) -> models.QuerySet:
    return Follow.objects.filter(target_type_id=target_type_id, target_id=target_id).select_related(
        "follower"
    )


def _notify_followers(
    *,
    post: Post,
    comment: Comment | None,
    actor,
    target,
    verb: str,
    skip: set[int],
    event_name: str = "",
) -> int:
    """Notify followers who want this kind of event and may see the post (bulk insert)."""
    event_type = "comment" if comment else ("system" if post.kind == Post.Kind.SYSTEM else "post")
    readers: list[tuple[int, list, bool]] = []
    # The post's author hears about replies even when not following the record.
    author_follows = (
        _followers(post.target_type_id, post.target_id).filter(follower_id=post.author_id).exists()
    )
    if comment is not None and post.author_id and post.author_id not in skip and not author_follows:
        readers.append((post.author_id, [], False))
    who = actor.get_username() if _is_user(actor) else "Kith"
    label = _target_label(target)
    if comment is not None:
        text = _summary(comment.body_markdown, f"{who} commented on {label}: ")
    else:
        lead = "Update" if post.kind == Post.Kind.SYSTEM else who
        text = _summary(post.body_markdown, f"{lead} on {label}: ")
    url = f"/collab/posts/{post.public_id}/"
    actor_id = actor.pk if _is_user(actor) else None
    notes: list[Notification] = []
    for user_id, event_types, muted in [*readers, *_audience(post, target)]:
        if user_id in skip:
            continue
        wants = Follow(event_types=event_types, muted=muted)
        if not (wants.wants(event_type) or (event_name and wants.wants(event_name))):
            continue
        skip.add(user_id)
        notes.append(
            Notification(
                user_id=user_id,
                verb=verb,
                actor_id=actor_id,
                post=post,
                comment=comment,
                text=text[:300],
                url=url,
            )
        )
    if notes:
        Notification.objects.bulk_create(notes, batch_size=1000)
        ids = [n.user_id for n in notes]
        transaction.on_commit(lambda: _after_notifications(ids))
    return len(notes)


def _lock_fresh(row: models.Model) -> None:
    """Reload ``row`` under its row lock (read-modify-write: edits keep every revision,
    a soft delete happens once, so the comment counter moves once)."""
    row.refresh_from_db(from_queryset=type(row).objects.select_for_update())


def edit_post(*, actor, post: Post, body: str) -> Post:
    """Change a post's text; the old text is kept as a revision."""
    if not access.can_change_post(actor, post) or post.deleted_at:
        raise Forbidden("Only the author can edit a post.")
    body = _clean_body(body)
    if body == post.body_markdown:
        return post
    rendered = _render(body, author=actor)
    with transaction.atomic():
        _lock_fresh(post)
        if post.deleted_at:
            raise Forbidden("Only the author can edit a post.")
        if body == post.body_markdown:
            return post
        PostRevision.objects.create(post=post, body_markdown=post.body_markdown, edited_by=actor)
        old = post.body_markdown
        post.body_markdown = body
        post.body_html = rendered.html
        post.edited_at = _now()
        post.save(update_fields=["body_markdown", "body_html", "edited_at", "updated_at"])
        post.topics.set(_topics(rendered.topics))
        known_users = set(post.mentions.filter(comment=None).values_list("user_id", flat=True))
        known_parties = set(post.mentions.filter(comment=None).values_list("party_id", flat=True))
        fresh = Rendered(
            rendered.html,
            [u for u in rendered.users if u.pk not in known_users],
            [p for p in rendered.parties if p.pk not in known_parties],
            rendered.topics,
        )
        target = access.target_of(post)
        mentioned = _record_mentions(
            post=post, comment=None, rendered=fresh, actor=actor, target=target
        )
        _fan_out_to(post, [u.pk for u in mentioned], mention_ids={u.pk for u in mentioned})
        audit.record(actor=actor, action="post.edited", obj=post, changes={"body": [old, body]})
        events.emit("post.edited", obj=post, actor=actor)
        _publish_post(post, "post_edited")
    return post


def delete_post(*, actor, post: Post) -> Post:
    """Soft delete: the row stays (audited), every reader stops seeing it."""
    if not access.can_delete_post(actor, post):
        raise Forbidden("Only the author or a manager can delete this post.")
    if post.deleted_at:
        return post
    with transaction.atomic():
        _lock_fresh(post)
        if post.deleted_at:  # a concurrent request deleted it first
            return post
        post.deleted_at = _now()
        post.deleted_by = actor
        post.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        # Feeds read their rows without joining posts: a deleted post leaves them.
        FeedItem.objects.filter(post=post).delete()
        audit.record(
            actor=actor,
            action="post.deleted",
            obj=post,
            changes={"body": post.body_markdown, "author": post.author_id},
        )
        events.emit("post.deleted", obj=post, actor=actor)
        _publish_post(post, "post_deleted")
    return post


# ---------------------------------------------------------------- comments


def create_comment(*, actor, post: Post, body: str) -> Comment:
    body = _clean_body(body)
    if not access.can_see_post(actor, post):
        raise NotFound("No such post.")
    access.require_can_post(actor)
    target = access.target_of(post)
    rendered = _render(body, author=actor)
    with transaction.atomic():
        comment = Comment.objects.create(
            post=post,
            author=actor,
            author_party_id=actor.person_id,
            body_markdown=body,
            body_html=rendered.html,
        )
        Post.objects.filter(pk=post.pk).update(comment_count=models.F("comment_count") + 1)
        audit.record(
            actor=actor,
            action="comment.created",
            obj=comment,
            changes={"post": str(post.public_id)},
        )
        events.emit("comment.created", obj=comment, actor=actor, data={"post": str(post.public_id)})
        if target is not None and not isinstance(target, Group):
            follow(actor=actor, target=target, reason="commented")
        mentioned = _record_mentions(
            post=post, comment=comment, rendered=rendered, actor=actor, target=target
        )
        _fan_out_to(post, [u.pk for u in mentioned], mention_ids={u.pk for u in mentioned})
        _external_interaction(
            author=actor,
            summary=_summary(body, f"Commented on {_target_label(target)}: "),
            related=comment,
            kind="comment",
        )
        _notify_followers(
            post=post,
            comment=comment,
            actor=actor,
            target=target,
            verb=Notification.Verb.COMMENT,
            skip={u.pk for u in mentioned} | {actor.pk},
        )
        _publish_post(post, "comment", comment=comment)
    return comment


def edit_comment(*, actor, comment: Comment, body: str) -> Comment:
    if comment.author_id != actor.pk or comment.deleted_at:
        raise Forbidden("Only the author can edit a comment.")
    body = _clean_body(body)
    rendered = _render(body, author=actor)
    with transaction.atomic():
        _lock_fresh(comment)
        if comment.deleted_at:
            raise Forbidden("Only the author can edit a comment.")
        PostRevision.objects.create(
            comment=comment, body_markdown=comment.body_markdown, edited_by=actor
        )
        old = comment.body_markdown
        comment.body_markdown = body
        comment.body_html = rendered.html
        comment.edited_at = _now()
        comment.save(update_fields=["body_markdown", "body_html", "edited_at", "updated_at"])
        audit.record(
            actor=actor, action="comment.edited", obj=comment, changes={"body": [old, body]}
        )
        events.emit("comment.edited", obj=comment, actor=actor)
    return comment


def delete_comment(*, actor, comment: Comment) -> Comment:
    if not access.can_delete_post(actor, comment):
        raise Forbidden("Only the author or a manager can delete this comment.")
    if comment.deleted_at:
        return comment
    with transaction.atomic():
        _lock_fresh(comment)
        if comment.deleted_at:  # a concurrent request deleted it first: count it once
            return comment
        comment.deleted_at = _now()
        comment.deleted_by = actor
        comment.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        Post.objects.filter(pk=comment.post_id, comment_count__gt=0).update(
            comment_count=models.F("comment_count") - 1
        )
        audit.record(
            actor=actor,
            action="comment.deleted",
            obj=comment,
            changes={"body": comment.body_markdown},
        )
        events.emit("comment.deleted", obj=comment, actor=actor)
    return comment


# ---------------------------------------------------------------- reactions


def react(*, actor, post: Post, emoji: str) -> tuple[Reaction, bool]:
    emoji = (emoji or "").strip()
    if not EMOJI.match(emoji):
        raise ValidationFailed.single("emoji", "One emoji or short name (at most 16 characters).")
    if not access.can_see_post(actor, post):
        raise NotFound("No such post.")
    existing = Reaction.objects.filter(post=post, user=actor, emoji=emoji).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            reaction = Reaction.objects.create(post=post, user=actor, emoji=emoji)
            audit.record(actor=actor, action="reaction.added", obj=post, changes={"emoji": emoji})
            events.emit("reaction.added", obj=post, actor=actor, data={"emoji": emoji})
    except IntegrityError:
        existing = Reaction.objects.filter(post=post, user=actor, emoji=emoji).first()
        if existing is None:
            raise
        return existing, False
    return reaction, True


def unreact(*, actor, post: Post, emoji: str) -> bool:
    with transaction.atomic():
        count, _ = Reaction.objects.filter(post=post, user=actor, emoji=emoji).delete()
        if count:
            audit.record(actor=actor, action="reaction.removed", obj=post, changes={"emoji": emoji})
            events.emit("reaction.removed", obj=post, actor=actor, data={"emoji": emoji})
    return bool(count)


# ---------------------------------------------------------------- attachments


def _sniff_type(upload: UploadedFile) -> str:
    guessed = mimetypes.guess_type(upload.name or "")[0] or ""
    return guessed or (upload.content_type or "application/octet-stream")


def add_attachment(
    *, actor, upload: UploadedFile, post: Post | None = None, comment: Comment | None = None
) -> Attachment:
    """Attach a file the author uploaded: size- and type-limited, magic bytes checked."""
    owner = comment or post
    if owner is None or owner.author_id != actor.pk:
        raise Forbidden("Only the author can attach files.")
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
    size = upload.size or 0
    limit = max_attachment_bytes()
    errors = []
    if size <= 0:
        errors.append(FieldError("file", "The file is empty."))
    elif size > limit:
        errors.append(FieldError("file", f"At most {limit // 1024} KiB."))
    ctype = _sniff_type(upload)
    if ctype not in allowed_attachment_types():
        errors.append(FieldError("file", f"Files of type {ctype} are not allowed."))
    elif ctype in MAGIC:
        head = upload.read(16)
        upload.seek(0)
        if not any(head.startswith(m) for m in MAGIC[ctype]):
            errors.append(FieldError("file", "The content does not match the file type."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        att = Attachment(
            post=post if comment is None else comment.post,
            comment=comment,
            name=name,
            content_type=ctype,
            size=size,
            uploaded_by=actor,
        )
        att.file.save(f"{uuid.uuid4().hex}{_ext(name)}", upload, save=False)
        att.save()
        audit.record(
            actor=actor,
            action="attachment.added",
            obj=att,
            changes={"name": name, "size": size, "type": ctype},
        )
        events.emit("attachment.added", obj=att, actor=actor, data={"name": name, "size": size})
    return att


def _ext(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{ext}" if re.fullmatch(r"[a-z0-9]{1,8}", ext) else ""


# ---------------------------------------------------------------- fan-out


def _deliver(
    post: Post,
    *,
    target,
    actor,
    verb: str,
    skip: set[int],
    mentioned_ids: set[int],
    event_name: str = "",
) -> None:
    """Notify followers and fan the post out: inline for small audiences, else in a task."""
    count = Follow.objects.filter(
        target_type_id=post.target_type_id, target_id=post.target_id
    ).count()
    if count <= inline_fanout_limit():
        _notify_followers(
            post=post,
            comment=None,
            actor=actor,
            target=target,
            verb=verb,
            skip=set(skip),
            event_name=event_name,
        )
        fan_out(post, mention_ids=mentioned_ids)
        return
    # A big audience: the author's own copy and the mentions now, the rest in a task.
    _fan_out_to(post, [post.author_id, *mentioned_ids], mention_ids=mentioned_ids)
    from .tasks import deliver_post

    args = (post.pk, getattr(actor, "pk", None), verb, sorted(skip), sorted(mentioned_ids))
    transaction.on_commit(lambda: deliver_post.enqueue(*args, event_name=event_name))


def deliver_post_now(
    *,
    post_id: int,
    actor_id: int | None,
    verb: str,
    skip: list[int],
    mention_ids: list[int],
    event_name: str = "",
) -> dict[str, int]:
    """The task body of a big delivery: notifications, then feed rows."""
    post = Post.objects.filter(pk=post_id, deleted_at__isnull=True).first()
    if post is None:
        return {"notified": 0, "fanned_out": 0}
    target = access.target_of(post)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        notified = _notify_followers(
            post=post,
            comment=None,
            actor=actor,
            target=target,
            verb=verb,
            skip=set(skip),
            event_name=event_name,
        )
        written = fan_out(post, mention_ids=set(mention_ids))
    return {"notified": notified, "fanned_out": written}


FOLLOWER_COLUMNS = (
    "follower_id",
    "follower__kind",
    "follower__is_active",
    "event_types",
    "muted",
)


def _audience(post: Post, target) -> Iterable[tuple[int, list, bool]]:
    """(user id, event types, muted) of each active follower allowed to see ``post``.

    Reads plain values, not User rows: for the common case (staff following a record
    everyone may see) no per-follower object or query is needed, which keeps a
    10,000-follower post to one pass. Other readers go through the access layer.
    """
    open_to_staff = (
        isinstance(target, Party)
        and target.visibility == "everyone"
        and post.visibility != Visibility.GROUP
    )
    rows = (
        Follow.objects.filter(target_type_id=post.target_type_id, target_id=post.target_id)
        .order_by("id")
        .values_list(*FOLLOWER_COLUMNS)
    )
    for user_id, kind, active, event_types, muted in rows.iterator(chunk_size=2000):
        if not active:
            continue
        external = kind == User.Kind.PORTAL
        if external and post.visibility == Visibility.INTERNAL:
            continue
        if not (open_to_staff and not external):
            user = User.objects.filter(pk=user_id).first()
            if user is None or not _reader_may_see(user, post, target):
                continue
        yield user_id, event_types, muted


def fan_out(post: Post, *, mention_ids: set[int] | None = None, batch: int = 2000) -> int:
    """Write the post into the feed of every reader allowed to see it; returns rows written."""
    mention_ids = set(mention_ids or ())
    target = access.target_of(post)
    if target is None:
        return 0
    written = 0
    reader_ids: list[int] = [post.author_id] if post.author_id else []
    for user_id, _, _ in _audience(post, target):
        reader_ids.append(user_id)
        if len(reader_ids) >= batch:
            written += _fan_out_to(post, reader_ids, mention_ids=mention_ids)
            reader_ids = []
    reader_ids += list(mention_ids)
    written += _fan_out_to(post, reader_ids, mention_ids=mention_ids)
    return written


def _reader_may_see(user, post: Post, target) -> bool:
    # Fast paths for the common cases keep a 10,000-follower fan-out to one pass.
    if post.visibility == Visibility.INTERNAL and access.is_external(user):
        return False
    if not access.is_external(user) and isinstance(target, Party) and post.visibility != "group":
        return people_access.is_visible(user, target)
    return access.can_see_post(user, post, target=target)


def _fan_out_to(post: Post, user_ids: Iterable[int], *, mention_ids: set[int]) -> int:
    rows = [
        FeedItem(
            user_id=uid,
            post_id=post.pk,
            target_type_id=post.target_type_id,
            target_id=post.target_id,
            group_id=post.group_id,
            mention=uid in mention_ids,
        )
        for uid in dict.fromkeys(u for u in user_ids if u)
    ]
    if not rows:
        return 0
    FeedItem.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    if mention_ids:
        FeedItem.objects.filter(post=post, user_id__in=mention_ids, mention=False).update(
            mention=True
        )
    return len(rows)


def _publish_post(post: Post, kind: str, *, comment: Comment | None = None) -> None:
    message = {
        "type": kind,
        "post": str(post.public_id),
        "comment": str(comment.public_id) if comment else None,
        "target_type": post.target_type_id,
        "target_id": post.target_id,
    }
    channel = live.feed_channel(post.target_type_id, post.target_id)
    transaction.on_commit(lambda: live.publish(channel, message))


# ---------------------------------------------------------------- notifications


def _digest_setting(user: User) -> str:
    row = NotificationSettings.objects.filter(user=user).first()
    return row.email_digest if row else NotificationSettings.Digest.DAILY


def notify(
    *,
    user: User,
    verb: str,
    text: str,
    actor=None,
    post: Post | None = None,
    comment: Comment | None = None,
    group: Group | None = None,
    url: str = "",
) -> Notification:
    """One in-app notification; e-mailed at once for users who chose immediate mail."""
    note = Notification.objects.create(
        user=user,
        verb=verb,
        actor=actor if _is_user(actor) else None,
        post=post,
        comment=comment,
        group=group,
        text=text[:300],
        url=url or (f"/collab/posts/{post.public_id}/" if post else ""),
    )
    uid = user.pk
    transaction.on_commit(lambda: _after_notifications([uid]))
    return note


def unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _after_notifications(user_ids: list[int]) -> None:
    """After commit: push each user's unread count live; mail those who chose immediate."""
    for begin in range(0, len(user_ids), 500):
        chunk = user_ids[begin : begin + 500]
        counts = dict(
            Notification.objects.filter(user_id__in=chunk, read_at__isnull=True)
            .values_list("user_id")
            .annotate(n=models.Count("id"))
        )
        for uid in chunk:
            live.publish(
                live.user_channel(uid), {"type": "notification", "unread": counts.get(uid, 0)}
            )
        immediate = NotificationSettings.objects.filter(
            user_id__in=chunk, email_digest=NotificationSettings.Digest.IMMEDIATE
        ).select_related("user")
        for prefs in immediate:
            try:
                send_digest(user=prefs.user)
            except Exception:  # mail trouble must never break a post; the digest retries
                logger.exception("immediate notification mail failed")


def mark_read(*, actor, ids: list[uuid.UUID | str] | None = None) -> int:
    """Mark the actor's notifications read (the given ones, or all).

    ``ids`` may come straight from a form; one that is not an id is refused (field
    ``id``) before anything is marked.
    """
    qs = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        try:
            wanted = [v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in ids]
        except ValueError:
            raise ValidationFailed.single("id", "Not a valid notification id.") from None
        qs = qs.filter(public_id__in=wanted)
    with transaction.atomic():
        count = qs.update(read_at=_now())
    live.publish(
        live.user_channel(actor.pk), {"type": "notification", "unread": unread_count(actor)}
    )
    return count


def set_email_digest(*, actor, mode: str) -> NotificationSettings:
    if mode not in NotificationSettings.Digest.values:
        raise ValidationFailed.single("email_digest", "Must be immediate, daily or off.")
    with transaction.atomic():
        row, _ = NotificationSettings.objects.get_or_create(user=actor)
        old = row.email_digest
        row.email_digest = mode
        row.save(update_fields=["email_digest"])
        audit.record(
            actor=actor,
            action="notification_settings.updated",
            obj=actor,
            changes={"email_digest": [old, mode]},
        )
        events.emit("notification_settings.updated", obj=actor, actor=actor, data={"mode": mode})
    return row


def send_digest(*, user: User, only_ids: list[int] | None = None) -> int:
    """E-mail the user's notifications not yet e-mailed (and unread); returns how many."""
    qs = Notification.objects.filter(user=user, emailed_at__isnull=True, read_at__isnull=True)
    if only_ids is not None:
        qs = qs.filter(pk__in=only_ids)
    notes = list(qs.order_by("id")[:200])
    if not notes or not user.email:
        return 0
    # A customer's consent and contact preferences are asked right before sending, so
    # a withdrawal stops the very next digest; refused notes stay unsent for later.
    from kith.cmr import policy as cmr_policy

    person = cmr_policy.person_of_user(user)
    purpose = setting("KITH_CMR_DIGEST_PURPOSE", "service_messages")
    if not cmr_policy.may_send(person=person, purpose=purpose, topic="notifications"):
        return 0
    base = setting("KITH_BASE_URL", "")
    lines = [f"- {n.text}\n  {base}{n.url}" if n.url else f"- {n.text}" for n in notes]
    subject = notes[0].text[:120] if len(notes) == 1 else f"{len(notes)} new notifications in Kith"
    body = "\n".join(
        [
            f"Hello {user.get_full_name() or user.username},",
            "",
            *lines,
            "",
            f"{base}/collab/notifications/",
        ]
    )
    send_mail(subject, body, None, [user.email])
    cmr_policy.record_sent(
        person=person, purpose=purpose, sender="collab.digest", topic="notifications"
    )
    now = _now()
    with transaction.atomic():
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=now)
        NotificationSettings.objects.update_or_create(user=user, defaults={"last_digest_at": now})
    return len(notes)


def send_digests(*, mode: str = "daily") -> dict[str, int]:
    """Send the digest to every user with ``mode`` mail and something unread; counts."""
    users = User.objects.filter(
        is_active=True,
        collab_notifications__emailed_at__isnull=True,
        collab_notifications__read_at__isnull=True,
    ).distinct()
    default_daily = mode == NotificationSettings.Digest.DAILY
    sent = users_mailed = 0
    for user in users:
        chosen = _digest_setting(user)
        if chosen != mode and not (default_daily and chosen == "immediate"):
            continue
        count = send_digest(user=user)
        sent += count
        users_mailed += int(bool(count))
    return {"users": users_mailed, "notifications": sent}


# ---------------------------------------------------------------- groups


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "group"
    slug, n = base, 2
    while Group.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def create_group(
    *,
    actor,
    name: str,
    description: str = "",
    privacy: str = Group.Privacy.PUBLIC,
    kind: str = Group.Kind.INTERNAL,
) -> Group:
    if access.is_external(actor) or not getattr(actor, "can_write", False):
        raise Forbidden("Only staff with a writing role can create groups.")
    errors = []
    name = " ".join((name or "").split())
    if not name:
        errors.append(FieldError("name", "This field is required."))
    elif len(name) > 120:
        errors.append(FieldError("name", "At most 120 characters."))
    if privacy not in Group.Privacy.values:
        errors.append(FieldError("privacy", "Must be public, private or unlisted."))
    if kind not in Group.Kind.values:
        errors.append(FieldError("kind", "Must be internal, partner or customer."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        group = Group.objects.create(
            name=name,
            slug=_unique_slug(name),
            description=(description or "")[:5000],
            privacy=privacy,
            kind=kind,
            created_by=actor,
        )
        Membership.objects.create(group=group, user=actor, role=Membership.Role.OWNER)
        access.forget(actor)
        follow(actor=actor, target=group, reason="member")
        audit.record(
            actor=actor,
            action="group.created",
            obj=group,
            changes={"name": name, "privacy": privacy, "kind": kind},
        )
        events.emit("group.created", obj=group, actor=actor, data={"name": name, "kind": kind})
    return group


def update_group(*, actor, group: Group, **fields: Any) -> Group:
    access.require_manage_group(actor, group)
    allowed = {"name", "description", "privacy"}
    wanted = {}
    for key, value in fields.items():
        if key not in allowed or value is None:
            continue
        if key == "privacy" and value not in Group.Privacy.values:
            raise ValidationFailed.single("privacy", "Must be public, private or unlisted.")
        if key == "name" and not str(value).strip():
            raise ValidationFailed.single("name", "This field is required.")
        wanted[key] = value
    changes = {}
    with transaction.atomic():
        # Compare with, and write over, the row as it is now (locked), and only the
        # fields given: a concurrent edit of another field is kept.
        try:
            _lock_fresh(group)
        except Group.DoesNotExist:
            raise NotFound("No such group.") from None
        for key, value in wanted.items():
            if getattr(group, key) != value:
                changes[key] = [getattr(group, key), value]
                setattr(group, key, value)
        if changes:
            group.save(update_fields=[*changes, "updated_at"])
        audit.record(actor=actor, action="group.updated", obj=group, changes=changes)
        events.emit("group.updated", obj=group, actor=actor, data={"changed": sorted(changes)})
    return group


def _locked_membership(group: Group, user: User) -> Membership | None:
    """Inside a transaction: lock ``group`` and read ``user``'s membership as it is now.

    Every membership change (join, invite, answer, leave, role) locks the group row
    first, so two of them on one group run one after the other and each decides from
    the current row, not from one read before a concurrent change committed.
    """
    Group.objects.select_for_update().filter(pk=group.pk).first()
    return Membership.objects.filter(group=group, user=user).first()


def _activate(group: Group, user: User, *, actor, role: str | None = None) -> Membership:
    row, _ = Membership.objects.get_or_create(group=group, user=user)
    row.status = Membership.Status.ACTIVE
    if role:
        row.role = role
    row.save()
    access.forget(user)
    follow(actor=user, target=group, reason="member")
    return row


def join_group(*, actor, group: Group) -> Membership:
    """Join a public or unlisted group (staff); private groups need an invitation."""
    reason = access.may_join(actor, group)
    if reason:
        raise Forbidden(reason)
    existing = access.membership(actor, group)
    if existing and existing.status == Membership.Status.ACTIVE:
        return existing
    with transaction.atomic():
        existing = _locked_membership(group, actor)
        if existing and existing.status == Membership.Status.ACTIVE:
            return existing
        invited = existing is not None and existing.status == Membership.Status.INVITED
        if not invited and (access.is_external(actor) or group.privacy == Group.Privacy.PRIVATE):
            raise Forbidden("This group is by invitation only.")
        row = _activate(group, actor, actor=actor)
        audit.record(actor=actor, action="membership.joined", obj=row)
        events.emit("membership.joined", obj=row, actor=actor, data={"group": str(group.public_id)})
    return row


def invite(*, actor, group: Group, user: User) -> Membership:
    """Invite ``user`` (staff, partner or customer, as the group's kind allows)."""
    access.require_manage_group(actor, group)
    reason = access.may_join(user, group)
    if reason:
        raise ValidationFailed.single("user", reason)
    existing = access.membership(user, group)
    if existing and existing.status == Membership.Status.ACTIVE:
        raise Conflict("Already a member.")
    with transaction.atomic():
        existing = _locked_membership(group, user)
        if existing and existing.status == Membership.Status.ACTIVE:
            raise Conflict("Already a member.")
        row, _ = Membership.objects.get_or_create(
            group=group, user=user, defaults={"invited_by": actor}
        )
        row.status = Membership.Status.INVITED
        row.invited_by = actor
        row.save()
        notify(
            user=user,
            verb=Notification.Verb.INVITATION,
            actor=actor,
            group=group,
            text=f"{actor.get_username()} invited you to the group {group.name}",
            url=f"/collab/groups/{group.public_id}/",
        )
        audit.record(actor=actor, action="membership.invited", obj=row, changes={"user": user.pk})
        events.emit(
            "membership.invited", obj=row, actor=actor, data={"group": str(group.public_id)}
        )
    return row


def respond_invitation(*, actor, group: Group, accept: bool) -> Membership:
    row = access.membership(actor, group)
    if row is None or row.status != Membership.Status.INVITED:
        raise NotFound("No invitation to this group.")
    with transaction.atomic():
        # The invitation may have been withdrawn (or answered) since it was read.
        row = _locked_membership(group, actor)
        if row is None or row.status != Membership.Status.INVITED:
            raise NotFound("No invitation to this group.")
        if accept:
            row = _activate(group, actor, actor=actor)
        else:
            row.status = Membership.Status.DECLINED
            row.save(update_fields=["status", "updated_at"])
        name = "membership.accepted" if accept else "membership.declined"
        audit.record(actor=actor, action=name, obj=row)
        events.emit(name, obj=row, actor=actor, data={"group": str(group.public_id)})
    return row


def leave_group(*, actor, group: Group, user: User | None = None) -> None:
    """Leave (or, for group admins, remove ``user`` from) the group."""
    user = user or actor
    if user.pk != actor.pk:
        access.require_manage_group(actor, group)
    row = access.membership(user, group)
    if row is None:
        raise NotFound("Not a member.")
    with transaction.atomic():
        row = _locked_membership(group, user)
        if row is None:  # removed by a concurrent request
            raise NotFound("Not a member.")
        audit.record(actor=actor, action="membership.removed", obj=row, changes={"user": user.pk})
        events.emit(
            "membership.removed", obj=row, actor=actor, data={"group": str(group.public_id)}
        )
        row.delete()
        access.forget(user)
        ct = _ct(group)
        Follow.objects.filter(target_type=ct, target_id=group.pk, follower=user).delete()
        # Their feed forgets what only members could read.
        FeedItem.objects.filter(user=user, group_id=group.pk).delete()


def set_member_role(*, actor, group: Group, user: User, role: str) -> Membership:
    access.require_manage_group(actor, group)
    if role not in Membership.Role.values:
        raise ValidationFailed.single("role", "Must be owner, admin or member.")
    row = access.membership(user, group)
    if row is None or row.status != Membership.Status.ACTIVE:
        raise NotFound("Not a member.")
    with transaction.atomic():
        row = _locked_membership(group, user)
        if row is None or row.status != Membership.Status.ACTIVE:
            raise NotFound("Not a member.")
        old = row.role
        row.role = role
        row.save(update_fields=["role", "updated_at"])
        audit.record(
            actor=actor, action="membership.role_changed", obj=row, changes={"role": [old, role]}
        )
        events.emit("membership.role_changed", obj=row, actor=actor, data={"role": role})
    return row


# ---------------------------------------------------------------- system posts


def record_system_event(
    *, actor, target: models.Model, event_name: str, line: str, occurred_at=None
) -> Post:
    """A system post on ``target``'s feed; a burst by one actor updates one post.

    Events about the same record by the same actor within
    ``KITH_COLLAB_SYSTEM_POST_GROUP_MINUTES`` are gathered into the newest system post
    instead of adding one entry per change.
    """
    ct = _ct(target)
    actor_id = actor.pk if _is_user(actor) else 0
    key = f"{ct.pk}:{target.pk}:{actor_id}"
    since = (occurred_at or _now()) - timedelta(minutes=system_group_minutes())
    with transaction.atomic():
        post = (
            Post.objects.select_for_update()
            .filter(
                kind=Post.Kind.SYSTEM,
                system_key=key,
                created_at__gte=since,
                deleted_at__isnull=True,
            )
            .order_by("-id")
            .first()
        )
        lines = list(post.system_lines) if post else []
        lines.append(line[:300])
        body = "\n".join(f"- {item}" for item in lines[-50:])
        html = rendering.render_markdown(body)
        if post is None:
            post = Post.objects.create(
                target_type=ct,
                target_id=target.pk,
                kind=Post.Kind.SYSTEM,
                author=actor if _is_user(actor) else None,
                body_markdown=body,
                body_html=html,
                visibility=Visibility.INTERNAL,
                system_key=key,
                system_lines=lines,
            )
            created = True
        else:
            post.system_lines = lines
            post.body_markdown = body
            post.body_html = html
            post.edited_at = _now()
            post.save(
                update_fields=[
                    "system_lines",
                    "body_markdown",
                    "body_html",
                    "edited_at",
                    "updated_at",
                ]
            )
            created = False
        audit.record(
            actor=actor,
            action="post.system_recorded",
            obj=post,
            changes={"event": event_name, "line": line},
            party_id=target.pk if isinstance(target, Party) else None,
        )
        if created:
            _deliver(
                post,
                target=target,
                actor=actor,
                verb=Notification.Verb.SYSTEM,
                skip={actor_id},
                mentioned_ids=set(),
                event_name=event_name,
            )
        _publish_post(post, "post" if created else "post_edited")
    return post


# ---------------------------------------------------------------- merges


def move_party_references(*, keep: Party, absorb: Party) -> dict[str, int]:
    """After a merge: follows, posts, feed items and mentions of ``absorb`` go to ``keep``.

    Runs inside the merge transaction (``party_merged`` signal). Foreign keys to Party
    (``Mention.party``, ``Post.author_party``) were already moved by the merge itself;
    the generic references are moved here, de-duplicating follows and mentions.
    """
    ct = ContentType.objects.get_for_model(Party)
    moved: dict[str, int] = {}
    already = set(
        Follow.objects.filter(target_type=ct, target_id=keep.pk).values_list(
            "follower_id", flat=True
        )
    )
    Follow.objects.filter(target_type=ct, target_id=absorb.pk, follower_id__in=already).delete()
    moved["follows"] = Follow.objects.filter(target_type=ct, target_id=absorb.pk).update(
        target_id=keep.pk
    )
    moved["posts"] = Post.objects.filter(target_type=ct, target_id=absorb.pk).update(
        target_id=keep.pk
    )
    FeedItem.objects.filter(target_type_id=ct.pk, target_id=absorb.pk).update(target_id=keep.pk)
    seen: set[tuple] = set()
    dupes = []
    for m in Mention.objects.filter(party=keep).order_by("id"):
        key = (m.post_id, m.comment_id)
        if key in seen:
            dupes.append(m.pk)
        seen.add(key)
    Mention.objects.filter(pk__in=dupes).delete()
    moved["mentions"] = Mention.objects.filter(party=keep).count()
    return moved
