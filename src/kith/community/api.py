"""HTTP API for kith.community (thin: parse, check access, call a service or query, serialise).

Reading public spaces needs no login (``optional_auth``); everything else authenticates
like the rest of the API. Creating POSTs take an ``Idempotency-Key``; lists are cursor
paginated; errors have the shared ``{"detail", "code", "errors"}`` shape.
"""

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.accounts.auth import api_auth
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent

from . import access, queries, services
from .models import Post, PostRevision, Space, Topic, TrustLevelRule


def _anonymous(request: HttpRequest) -> bool:
    """Lets a request without credentials through as the anonymous user (public spaces)."""
    return True


optional_auth = [*api_auth, _anonymous]
router = Router(tags=["community"])


# ---------------------------------------------------------------- schemas


class PageQuery(Schema):
    cursor: str | None = None
    limit: int | None = None


class LeadersQuery(Schema):
    limit: int = Field(10, ge=1, le=100)


class TopicListQuery(PageQuery):
    tag: str = ""
    unanswered: bool = False


class SpaceIn(Schema):
    name: str
    slug: str = ""
    audience: str = "public"
    description: str = ""
    group: uuid.UUID | None = None


class RulesIn(Schema):
    points: dict[str, Any] | None = None
    privileges: dict[str, Any] | None = None


class TopicIn(Schema):
    title: str
    body: str
    kind: str = "question"
    tags: list[str] = []


class TopicWithSpaceIn(TopicIn):
    space: str


class CommunityBodyIn(Schema):
    body: str


class PostPatch(Schema):
    body: str
    title: str | None = None


class VoteIn(Schema):
    value: int


class AcceptIn(Schema):
    answer: uuid.UUID


class FlagIn(Schema):
    reason: str
    note: str = ""


class ReviewIn(Schema):
    remove: bool


class TopicPatch(Schema):
    locked: bool | None = None
    closed: bool | None = None
    space: str | None = None


class TopicMergeIn(Schema):
    into: uuid.UUID


class SearchQuery(Schema):
    q: str
    space: str | None = None
    limit: int = 20


class SimilarQuery(Schema):
    q: str
    answered_only: bool = False
    limit: int = 5


class TrustIn(Schema):
    level: int
    locked: bool = True


class TrustRuleIn(Schema):
    name: str | None = None
    window_days: int | None = None
    min_days_visited: int | None = None
    min_posts_read: int | None = None
    min_replies: int | None = None
    min_likes_given: int | None = None
    min_likes_received: int | None = None
    max_flags_against: int | None = None
    posts_per_day: int | None = None
    links_allowed: bool | None = None


# ---------------------------------------------------------------- serialisers


def _user(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": str(user.public_id),
        # The community is public: a username that is an e-mail address (a portal
        # member's) is shown to nobody, staff included.
        "username": user.username_shown_to(None),
        "name": user.public_name,
        "staff": not user.is_portal,
    }


def space_out(space: Space) -> dict[str, Any]:
    return {
        "id": str(space.public_id),
        "slug": space.slug,
        "name": space.name,
        "description": space.description,
        "audience": space.audience,
    }


def topic_out(topic: Topic) -> dict[str, Any]:
    return {
        "id": str(topic.public_id),
        "kind": topic.kind,
        "title": topic.title,
        "author": _user(topic.author) if "author" in topic._state.fields_cache else None,
        "answered": topic.answered,
        "score": topic.score,
        "reply_count": topic.reply_count,
        "view_count": topic.view_count,
        "locked": topic.locked_at is not None,
        "closed": topic.closed_at is not None,
        "hidden": topic.hidden_at is not None,
        "created_at": topic.created_at,
        "last_activity_at": topic.last_activity_at,
        "url": f"/community/t/{topic.public_id}/",
    }


def post_out(post: Post, my_vote: int = 0, points: dict[int, int] | None = None) -> dict[str, Any]:
    """A post; ``points`` (author id → points in the topic's space) adds the author's
    standing in this space as ``author_space_reputation``."""
    data = {
        "id": str(post.public_id),
        "kind": post.kind,
        "author": _user(post.author),
        "body": post.body,
        "body_html": post.body_html,
        "official": post.is_official,
        "score": post.score,
        "my_vote": my_vote,
        "hidden": post.hidden_at is not None,
        "deleted": post.deleted_at is not None,
        "edited_at": post.edited_at,
        "created_at": post.created_at,
    }
    if points is not None:
        data["author_space_reputation"] = points.get(post.author_id, 0) if post.author_id else 0
    return data


def _space(request, ref: str, field: str | None = None) -> Space:
    try:
        return access.get_space(request.user, ref)
    except NotFound:
        if field:
            raise ValidationFailed.single(field, "No such space.") from None
        raise


def _member(public_id: uuid.UUID):
    user = get_user_model().objects.filter(public_id=public_id, is_active=True).first()
    if user is None:
        raise NotFound("No such member.")
    return user


# ---------------------------------------------------------------- spaces


@router.get("/community/spaces", auth=optional_auth, url_name="community_spaces")
def list_spaces(request: HttpRequest):
    return {"items": [space_out(s) for s in queries.spaces(request.user)]}


@router.post("/community/spaces", response={201: dict})
@idempotent
def create_space(request: HttpRequest, payload: SpaceIn):
    group = None
    if payload.group is not None:
        from kith.collab.models import Group

        group = Group.objects.filter(public_id=payload.group).first()
        if group is None:
            raise ValidationFailed.single("group", "No such group.")
    space = services.create_space(
        actor=request.user,
        name=payload.name,
        slug=payload.slug,
        audience=payload.audience,
        description=payload.description,
        group=group,
    )
    return Status(201, space_out(space))


@router.get("/community/spaces/{ref}", auth=optional_auth)
def get_space(request: HttpRequest, ref: str):
    space = _space(request, ref)
    data = space_out(space)
    if access.is_staff(request.user):
        data |= {
            "points": {k: space.point(k) for k in sorted(space.points)},
            "privileges": {k: space.privilege(k) for k in sorted(space.privileges)},
        }
    return data


@router.get("/community/spaces/{ref}/leaders", auth=optional_auth)
def space_leaders(request: HttpRequest, ref: str, query: Query[LeadersQuery]):
    """The members with the most points in this space (its own reputation, not the
    global total), and the caller's own points here when logged in."""
    space = _space(request, ref)
    user = request.user
    mine = None
    if access.is_logged_in(user):
        mine = queries.space_points(space, [user.pk]).get(user.pk, 0)
    return {
        "space": space_out(space),
        "items": [
            {"member": _user(leader.member), "reputation": leader.reputation}
            for leader in queries.space_leaders(space, limit=query.limit)
        ],
        "my_reputation": mine,
    }


@router.patch("/community/spaces/{ref}/rules")
def update_rules(request: HttpRequest, ref: str, payload: RulesIn):
    space = services.update_space_rules(
        actor=request.user,
        space=_space(request, ref),
        points=payload.points,
        privileges=payload.privileges,
    )
    return get_space(request, str(space.public_id))


@router.get("/community/spaces/{ref}/topics", auth=optional_auth)
def space_topics(request: HttpRequest, ref: str, query: Query[TopicListQuery]):
    page = queries.space_topics(
        request.user,
        _space(request, ref),
        cursor=query.cursor,
        limit=query.limit,
        tag=query.tag,
        unanswered=query.unanswered,
    )
    return {"items": [topic_out(t) for t in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------- topics


def _create_topic(request, space: Space, payload: TopicIn) -> Status:
    topic = services.create_topic(
        actor=request.user,
        space=space,
        title=payload.title,
        body=payload.body,
        kind=payload.kind,
        tags=payload.tags,
    )
    return Status(201, topic_out(topic))


@router.post("/community/spaces/{ref}/topics", response={201: dict})
@idempotent
def create_topic_in_space(request: HttpRequest, ref: str, payload: TopicIn):
    return _create_topic(request, _space(request, ref), payload)


@router.post("/community/topics", response={201: dict})
@idempotent
def create_topic(request: HttpRequest, payload: TopicWithSpaceIn):
    """Ask a question; ``space`` is a space's id or slug (an unknown one is a 422 on ``space``)."""
    return _create_topic(request, _space(request, payload.space, field="space"), payload)


@router.get("/community/topics/{public_id}", auth=optional_auth)
def get_topic(request: HttpRequest, public_id: uuid.UUID, query: Query[PageQuery]):
    topic = access.get_topic(request.user, public_id)
    page = queries.topic_page(request.user, topic, cursor=query.cursor, limit=query.limit)
    votes = page.my_votes
    points = page.author_points
    return {
        **topic_out(topic),
        "space": space_out(topic.space),
        "tags": sorted(topic.tags.values_list("slug", flat=True)),
        "merged_into": str(topic.merged_into.public_id) if topic.merged_into_id else None,
        "accepted_answer": str(topic.accepted_answer.public_id)
        if topic.accepted_answer_id
        else None,
        "question": post_out(page.question, votes.get(page.question.pk, 0), points)
        if page.question
        else None,
        "answers": [
            {
                **post_out(a, votes.get(a.pk, 0), points),
                "accepted": a.pk == topic.accepted_answer_id,
                "comments": [post_out(c, 0, points) for c in page.comments.get(a.pk, [])],
            }
            for a in page.answers
        ],
        "next_cursor": page.next_cursor,
    }


@router.patch("/community/topics/{public_id}")
def moderate_topic(request: HttpRequest, public_id: uuid.UUID, payload: TopicPatch):
    """Lock, close or move a topic (moderators; closing also with the ``close`` privilege)."""
    topic = access.get_topic(request.user, public_id)
    if payload.locked is not None:
        topic = services.set_locked(actor=request.user, topic=topic, locked=payload.locked)
    if payload.closed is not None:
        topic = services.set_closed(actor=request.user, topic=topic, closed=payload.closed)
    if payload.space is not None:
        topic = services.move_topic(
            actor=request.user, topic=topic, space=_space(request, payload.space, field="space")
        )
    return topic_out(access.get_topic(request.user, public_id))


@router.post("/community/topics/{public_id}/merge")
def merge_topic(request: HttpRequest, public_id: uuid.UUID, payload: TopicMergeIn):
    source = access.get_topic(request.user, public_id)
    try:
        target = access.get_topic(request.user, payload.into)
    except NotFound:
        raise ValidationFailed.single("into", "No such topic.") from None
    return topic_out(services.merge_topics(actor=request.user, source=source, target=target))


@router.post("/community/topics/{public_id}/answers", response={201: dict})
@idempotent
def answer(request: HttpRequest, public_id: uuid.UUID, payload: CommunityBodyIn):
    topic = access.get_topic(request.user, public_id)
    return Status(201, post_out(services.reply(actor=request.user, topic=topic, body=payload.body)))


@router.post("/community/topics/{public_id}/accept")
def accept(request: HttpRequest, public_id: uuid.UUID, payload: AcceptIn):
    topic = access.get_topic(request.user, public_id)
    try:
        # Only an answer the caller may see (not one held for review, nor deleted).
        answer = access.get_post(request.user, payload.answer)
    except NotFound:
        answer = None
    if answer is None or answer.topic_id != topic.pk:
        raise ValidationFailed.single("answer", "Not an answer of this topic.")
    answer.topic = topic
    return topic_out(services.accept_answer(actor=request.user, answer=answer))


@router.delete("/community/topics/{public_id}/accept")
def unaccept(request: HttpRequest, public_id: uuid.UUID):
    topic = access.get_topic(request.user, public_id)
    return topic_out(services.unaccept_answer(actor=request.user, topic=topic))


# ---------------------------------------------------------------- posts


@router.get("/community/posts/{public_id}", auth=optional_auth)
def get_post(request: HttpRequest, public_id: uuid.UUID):
    return post_out(access.get_post(request.user, public_id))


@router.patch("/community/posts/{public_id}")
def edit_post(request: HttpRequest, public_id: uuid.UUID, payload: PostPatch):
    post = access.get_post(request.user, public_id)
    return post_out(
        services.edit_post(actor=request.user, post=post, body=payload.body, title=payload.title)
    )


@router.delete("/community/posts/{public_id}", response={204: None})
def delete_post(request: HttpRequest, public_id: uuid.UUID):
    services.delete_post(actor=request.user, post=access.get_post(request.user, public_id))
    return Status(204, None)


@router.get("/community/posts/{public_id}/revisions")
def revisions(request: HttpRequest, public_id: uuid.UUID):
    post = access.get_post(request.user, public_id)
    access.require_participant(request.user)
    rows = PostRevision.objects.filter(post=post).select_related("editor")[:100]
    return {
        "items": [
            {
                "title": r.title,
                "body": r.body,
                "editor": _user(r.editor),
                "created_at": r.created_at,
            }
            for r in rows
        ]
    }


@router.post("/community/posts/{public_id}/comments", response={201: dict})
@idempotent
def add_comment(request: HttpRequest, public_id: uuid.UUID, payload: CommunityBodyIn):
    post = access.get_post(request.user, public_id)
    return Status(201, post_out(services.comment(actor=request.user, post=post, body=payload.body)))


@router.put("/community/posts/{public_id}/vote")
def vote(request: HttpRequest, public_id: uuid.UUID, payload: VoteIn):
    post = access.get_post(request.user, public_id, with_author=False)
    result = services.vote(actor=request.user, post=post, value=payload.value)
    return {"post": str(post.public_id), "value": result.value, "score": result.score}


@router.delete("/community/posts/{public_id}/vote")
def retract_vote(request: HttpRequest, public_id: uuid.UUID):
    post = access.get_post(request.user, public_id, with_author=False)
    result = services.retract_vote(actor=request.user, post=post)
    return {"post": str(post.public_id), "value": 0, "score": result.score}


@router.post("/community/posts/{public_id}/flags", response={201: dict})
def flag(request: HttpRequest, public_id: uuid.UUID, payload: FlagIn):
    post = access.get_post(request.user, public_id)
    services.flag_post(actor=request.user, post=post, reason=payload.reason, note=payload.note)
    post.refresh_from_db()
    return Status(201, {"post": str(post.public_id), "hidden": post.hidden_at is not None})


@router.post("/community/posts/{public_id}/review")
def review(request: HttpRequest, public_id: uuid.UUID, payload: ReviewIn):
    post = access.get_post(request.user, public_id)
    return post_out(services.resolve_flags(actor=request.user, post=post, remove=payload.remove))


@router.get("/community/moderation")
def moderation(request: HttpRequest):
    access.require_participant(request.user)
    return {
        "items": [
            {
                **post_out(p),
                "topic": topic_out(p.topic),
                "pending_flags": p.pending_flags,
            }
            for p in queries.moderation_queue(request.user)
        ]
    }


# ---------------------------------------------------------------- search


@router.get("/community/search", auth=optional_auth)
def search(request: HttpRequest, query: Query[SearchQuery]):
    if len(query.q) > 300:
        raise ValidationFailed.single("q", "At most 300 characters.")
    if not 1 <= query.limit <= 50:
        raise ValidationFailed.single("limit", "Between 1 and 50.")
    space = _space(request, query.space, field="space") if query.space else None
    found = queries.search_topics(request.user, query.q, space=space, limit=query.limit)
    return {"items": [topic_out(t) for t in found]}


@router.get("/community/similar", auth=optional_auth)
def similar(request: HttpRequest, query: Query[SimilarQuery]):
    if not 1 <= query.limit <= 20:
        raise ValidationFailed.single("limit", "Between 1 and 20.")
    found = queries.similar_topics(
        request.user, query.q[:300], answered_only=query.answered_only, limit=query.limit
    )
    return {"items": [topic_out(t) for t in found]}


# ---------------------------------------------------------------- members, trust


def _standing(member, viewer) -> dict[str, Any]:
    """A member's standing; ``spaces`` lists their points per space among the spaces
    ``viewer`` may see."""
    spaces = [
        {"space": space_out(s.space), "reputation": s.reputation}
        for s in queries.member_spaces(viewer, member)
    ]
    s = queries.standing(member)
    if s is None:
        return {
            "member": _user(member),
            "reputation": 0,
            "trust_level": 0,
            "badges": [],
            "spaces": spaces,
        }
    return {
        "member": _user(member),
        "reputation": s.reputation,
        "trust_level": s.trust_level,
        "trust_name": s.trust_name,
        "questions": s.questions,
        "answers": s.answers,
        "accepted": s.accepted,
        "badges": s.badges,
        "spaces": spaces,
    }


@router.get("/community/me")
def me(request: HttpRequest):
    access.require_participant(request.user)
    return _standing(request.user, request.user)


@router.get("/community/members/{public_id}")
def member(request: HttpRequest, public_id: uuid.UUID):
    access.require_participant(request.user)
    return _standing(_member(public_id), request.user)


@router.get("/community/members/{public_id}/ledger")
def member_ledger(request: HttpRequest, public_id: uuid.UUID, query: Query[PageQuery]):
    """The reputation ledger of a member: themselves or staff only."""
    target = _member(public_id)
    if not (access.is_staff(request.user) or request.user.pk == target.pk):
        raise NotFound("No such member.")
    page = queries.ledger(target, cursor=query.cursor, limit=query.limit)
    return {
        "items": [
            {
                "action": e.action,
                "points": e.points,
                "reason": e.reason,
                "reverses": e.reverses_id is not None,
                "created_at": e.created_at,
            }
            for e in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@router.post("/community/members/{public_id}/trust")
def set_trust(request: HttpRequest, public_id: uuid.UUID, payload: TrustIn):
    row = services.set_trust_level(
        actor=request.user, user=_member(public_id), level=payload.level, locked=payload.locked
    )
    return {"trust_level": row.trust_level, "locked": row.trust_locked}


def _rule_out(rule: TrustLevelRule) -> dict[str, Any]:
    return {f.name: getattr(rule, f.name) for f in TrustLevelRule._meta.fields if f.name != "id"}


@router.get("/community/trust-levels")
def trust_levels(request: HttpRequest):
    return {"items": [_rule_out(r) for r in TrustLevelRule.objects.all()]}


@router.patch("/community/trust-levels/{level}")
def update_trust_level(request: HttpRequest, level: int, payload: TrustRuleIn):
    rule = services.update_trust_rule(
        actor=request.user, level=level, changes=payload.dict(exclude_none=True)
    )
    return _rule_out(rule)
