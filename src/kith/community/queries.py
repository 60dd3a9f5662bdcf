"""Read-side queries of the community: lists, topic pages, search, similar questions,
the moderation queue and a member's standing. Every query is scoped by kith.community.access."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum

from kith.core.pagination import Page, clamp_limit, paginate

from . import access, search
from .models import (
    BadgeAward,
    Flag,
    MemberProfile,
    Post,
    ReputationEvent,
    Space,
    Topic,
    TrustLevelRule,
)

TOPIC_ORDER = ("-last_activity_at", "-id")


def spaces(user) -> QuerySet[Space]:
    return access.scope_spaces(user).order_by("name", "id")


def space_topics(
    user,
    space: Space,
    *,
    cursor: str | None = None,
    limit: int | None = None,
    tag: str = "",
    unanswered: bool = False,
) -> Page:
    """One page of a space's topics, most recently active first (index range scan)."""
    qs = access.scope_topics(user, Topic.objects.filter(space=space, merged_into__isnull=True))
    if tag:
        qs = qs.filter(tags__slug=tag[:50])
    if unanswered:
        qs = qs.filter(answered=False, kind=Topic.Kind.QUESTION)
    # The search document is the only large column; the page shows the author.
    qs = qs.select_related("author").defer("search_text")
    return paginate(qs, order=TOPIC_ORDER, cursor=cursor, limit=clamp_limit(limit, 30))


@dataclass
class TopicPage:
    topic: Topic
    question: Post | None
    answers: list[Post]
    comments: dict[int, list[Post]] = field(default_factory=dict)
    my_votes: dict[int, int] = field(default_factory=dict)
    next_cursor: str | None = None
    # Each shown author's points in the topic's space (``SpaceReputation``).
    author_points: dict[int, int] = field(default_factory=dict)


ANSWER_ORDER = ("created_at", "id")


def topic_page(
    user, topic: Topic, *, cursor: str | None = None, limit: int | None = None
) -> TopicPage:
    """The opening post, a page of answers (accepted first) and their comments."""
    limit = clamp_limit(limit, 50)
    posts = access.scope_posts(user, topic).select_related("author")
    question = posts.filter(kind=Post.Kind.QUESTION).first()
    page = paginate(
        posts.filter(kind=Post.Kind.ANSWER), order=ANSWER_ORDER, cursor=cursor, limit=limit
    )
    answers = list(page.items)
    if topic.accepted_answer_id and not cursor:
        accepted = [a for a in answers if a.pk == topic.accepted_answer_id]
        if not accepted:
            accepted = list(posts.filter(pk=topic.accepted_answer_id))
        answers = accepted + [a for a in answers if a.pk != topic.accepted_answer_id]
    parents = [p.pk for p in answers] + ([question.pk] if question else [])
    comments: dict[int, list[Post]] = {}
    for c in posts.filter(kind=Post.Kind.COMMENT, parent_id__in=parents).order_by(
        "created_at", "id"
    )[:500]:
        comments.setdefault(c.parent_id, []).append(c)
    my_votes: dict[int, int] = {}
    if access.is_logged_in(user):
        from .models import Vote

        my_votes = dict(
            Vote.objects.filter(voter=user, post_id__in=parents).values_list("post_id", "value")
        )
    authors = [p.author_id for p in answers] + ([question.author_id] if question else [])
    authors += [c.author_id for group in comments.values() for c in group]
    author_points = space_points(topic.space, authors)
    return TopicPage(topic, question, answers, comments, my_votes, page.next_cursor, author_points)


def search_topics(user, q: str, *, space: Space | None = None, limit: int = 20) -> list[Topic]:
    """Community search through the FTS5 / PostgreSQL full-text index."""
    qs = access.scope_topics(user, Topic.objects.filter(merged_into__isnull=True))
    if space is not None:
        qs = qs.filter(space=space)
    return search.search(qs, q, limit=max(1, min(limit, 50)))


def similar_topics(user, text: str, answered_only: bool = False, limit: int = 5) -> list[Topic]:
    """Topics like ``text`` that ``user`` may see, for "similar questions" while typing
    and for case deflection in the portal (answered ones rank first anyway)."""
    qs = access.scope_topics(
        user,
        Topic.objects.filter(
            merged_into__isnull=True, deleted_at__isnull=True, hidden_at__isnull=True
        ),
    )
    if answered_only:
        qs = qs.filter(answered=True)
    return search.search(qs, text, limit=max(1, min(limit, 20)))


def moderation_queue(user, *, limit: int = 100) -> list[Post]:
    """Posts with pending flags (hidden ones first), for moderators."""
    if not access.can_moderate_anywhere(user):
        return []
    pending = Count("flags", filter=Q(flags__outcome=Flag.Outcome.PENDING))
    return list(
        Post.objects.filter(
            flags__outcome=Flag.Outcome.PENDING,
            topic__space_id__in=access.visible_space_ids(user),
        )
        .annotate(pending_flags=pending)
        .select_related("topic", "topic__space", "author")
        .order_by("hidden_at", "-pending_flags", "id")
        .distinct()[:limit]
    )


@dataclass
class Standing:
    reputation: int
    trust_level: int
    trust_name: str
    questions: int
    answers: int
    accepted: int
    badges: list[str]
    recent_points: list[ReputationEvent]


def standing(member) -> Standing | None:
    """A member's reputation, trust level and contributions (for the person page)."""
    profile = MemberProfile.objects.filter(user=member).first()
    if profile is None:
        return None
    rule = TrustLevelRule.objects.filter(level=profile.trust_level).first()
    answers = Post.objects.filter(author=member, kind=Post.Kind.ANSWER, deleted_at__isnull=True)
    return Standing(
        reputation=profile.reputation,
        trust_level=profile.trust_level,
        trust_name=rule.name if rule else "",
        questions=Topic.objects.filter(
            author=member, kind=Topic.Kind.QUESTION, deleted_at__isnull=True
        ).count(),
        answers=answers.count(),
        accepted=Topic.objects.filter(accepted_answer__author=member).count(),
        badges=list(
            BadgeAward.objects.filter(user=member)
            .order_by("awarded_at")
            .values_list("badge__name", flat=True)
        ),
        recent_points=list(
            ReputationEvent.objects.filter(user=member)
            .select_related("post__topic")
            .order_by("-created_at", "-id")[:10]
        ),
    )


def ledger(member, *, cursor: str | None = None, limit: int | None = None) -> Page:
    return paginate(
        ReputationEvent.objects.filter(user=member),
        order=("-created_at", "-id"),
        cursor=cursor,
        limit=clamp_limit(limit, 50),
    )


def reputation_total(member) -> int:
    return ReputationEvent.objects.filter(user=member).aggregate(s=Sum("points"))["s"] or 0


# ---------------------------------------------------------------- per-space reputation


@dataclass
class SpaceStanding:
    """A member's points in one space (``SpaceReputation``, the ledger's rows of that space)."""

    space: Space
    reputation: int


@dataclass
class Leader:
    member: object  # a User
    reputation: int


def space_leaders(space: Space, *, limit: int = 10) -> list[Leader]:
    """The members with the most points in ``space`` (a range scan of
    ``community_space_rep_top``); members with no positive points are not leaders."""
    from .models import SpaceReputation

    rows = (
        SpaceReputation.objects.filter(space=space, reputation__gt=0, user__is_active=True)
        .select_related("user")
        .order_by("-reputation", "user_id")[: max(1, min(limit, 100))]
    )
    return [Leader(r.user, r.reputation) for r in rows]


def space_points(space: Space, user_ids) -> dict[int, int]:
    """``{user id: points in space}`` for the given members (absent: 0), one query."""
    from .models import SpaceReputation

    ids = {uid for uid in user_ids if uid is not None}
    if not ids:
        return {}
    return dict(
        SpaceReputation.objects.filter(space=space, user_id__in=ids).values_list(
            "user_id", "reputation"
        )
    )


def member_spaces(viewer, member) -> list[SpaceStanding]:
    """``member``'s points per space, only in the spaces ``viewer`` may see (a hidden
    space's name never leaks through someone's standing), most points first."""
    from .models import SpaceReputation

    rows = (
        SpaceReputation.objects.filter(user=member, space_id__in=access.visible_space_ids(viewer))
        .exclude(reputation=0)
        .select_related("space")
        .order_by("-reputation", "space_id")[:50]
    )
    return [SpaceStanding(r.space, r.reputation) for r in rows]
