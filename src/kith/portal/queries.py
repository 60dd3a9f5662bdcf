"""Reads for the customer's pages: their cases, groups and notifications.

Everything is scoped through the owning app's access layer (``kith.service.access`` for
cases, ``kith.collab`` for groups and notifications), so the portal cannot show more
than those rules allow.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from kith.collab import queries as collab_queries
from kith.collab import rendering
from kith.collab.models import Notification
from kith.service import access as service_access
from kith.service.models import Case


def my_cases(user, *, status: str = "", limit: int | None = None) -> list[Case]:
    """Cases the customer may see (their own, and their organisation's where it shares them)."""
    qs: QuerySet = (
        service_access.scope_customer_cases(user)
        .select_related("requester", "organization")
        .order_by("-created_at", "-id")
    )
    if status == "open":
        qs = qs.exclude(status__in=("resolved", "closed"))
    elif status == "closed":
        qs = qs.filter(status__in=("resolved", "closed"))
    return list(qs[:limit] if limit else qs[:500])


def my_notifications(user, *, cursor: str | None = None, limit: int = 30) -> list[Notification]:
    """The customer's notifications, newest first, with their text rendered from Markdown."""
    page = collab_queries.notifications(user, cursor=cursor, limit=limit)
    for item in page.items:
        item.html = rendering.render_markdown(item.text)
    return page.items


def my_groups(user) -> list:
    return list(collab_queries.my_groups(user).filter(archived_at__isnull=True))


def _topic_url(topic) -> str:
    if hasattr(topic, "get_absolute_url"):
        return topic.get_absolute_url()
    for name in ("community:topic", "community:portal_topic"):
        try:
            return reverse(name, args=[topic.public_id])
        except NoReverseMatch:
            continue
    return ""


def suggested_answers(user, text: str, *, limit: int = 5) -> list[dict]:
    """Answered community topics matching ``text`` that ``user`` may read, as
    ``{"id", "title", "url"}`` dicts (the deflection step before a case is opened).

    Uses ``kith.community.queries.similar_topics`` when the community app provides it;
    without it the portal simply shows no suggestions.
    """
    try:
        from kith.community.queries import similar_topics
    except ImportError:
        return []
    return [
        {"id": str(topic.public_id), "title": topic.title, "url": _topic_url(topic)}
        for topic in similar_topics(user, text, answered_only=True, limit=limit)
    ]


def suggested_answer(user, topic_id: str):
    """The question and its best answer (accepted first) of a suggested topic, read
    through the community's access rules: ``(topic, question, answer)``."""
    from kith.community import access as community_access
    from kith.community import queries as community_queries

    topic = community_access.get_topic(user, topic_id)
    page = community_queries.topic_page(user, topic, limit=5)
    return topic, page.question, (page.answers[0] if page.answers else None)


def contact_email(user) -> str:
    """Where we write to the customer: their login's address, else their Person's primary
    e-mail (logins made by staff may carry none)."""
    if user.email:
        return user.email
    return (
        user.person.contact_points.filter(channel="email")
        .order_by("-primary", "id")
        .values_list("value", flat=True)
        .first()
        or ""
    )
