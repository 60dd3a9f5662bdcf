"""Read side of listening: the engagement queue and the mention list with filters.

The queue is the open mentions (new, assigned) in ``rank`` order, newest id breaking
ties: the index ``lst_mention_queue`` (is_open, -rank, -id) serves it, so a page costs an
index range scan whatever the table's size (benchmarks/listening.py measures it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from kith.core.errors import ValidationFailed
from kith.listening import access
from kith.listening.models import OPEN_STATUSES, Mention, MentionStatus, Sentiment

QUEUE_ORDER = ("-rank", "-id")
# ``is_open`` (generated from status) leads the queue's indexes: one range in order.
# Spelled ``IN (true)``, not ``is_open=True``: Django writes the latter as the bare
# column (``WHERE is_open``), which SQLite cannot match to an index (a full scan and a
# sort of the whole table: seconds at a million rows); ``IN`` gives ``is_open IN (1)``,
# an index range on SQLite, and ``is_open = true`` on PostgreSQL.
OPEN = Q(is_open__in=[True])
ORDERS = {
    "priority": QUEUE_ORDER,
    "-published": ("-published_at", "-id"),
    "published": ("published_at", "id"),
    "-received": ("-id",),
}


@dataclass
class MentionFilters:
    status: list[str] | None = None  # None: every status
    source: str = ""
    sentiment: str = ""
    language: str = ""
    topic: str = ""
    keyword: str = ""
    person: str = ""
    assignee: str = ""  # a username, "me" or "none"
    channel: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    q: str = ""


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed.single(field, "Not a valid id.") from None


def apply_filters(qs: QuerySet, f: MentionFilters, *, user) -> QuerySet:
    if f.status is not None:
        bad = [s for s in f.status if s not in MentionStatus.values]
        if bad:
            raise ValidationFailed.single(
                "status", f"Unknown status {bad[0]!r}; one of: {', '.join(MentionStatus.values)}."
            )
        qs = qs.filter(status__in=f.status)
    if f.source:
        qs = qs.filter(source__public_id=_uuid(f.source, "source"))
    if f.sentiment:
        if f.sentiment not in Sentiment.values:
            raise ValidationFailed.single("sentiment", f"One of: {', '.join(Sentiment.values)}.")
        qs = qs.filter(sentiment_label=f.sentiment)
    if f.language:
        qs = qs.filter(language=f.language.lower()[:8])
    if f.topic:
        qs = qs.filter(topic=f.topic[:60])
    if f.channel:
        qs = qs.filter(channel=f.channel.lower()[:20])
    if f.keyword:
        # JSON containment is not portable to SQLite; the term is quoted inside the list.
        term = " ".join(f.keyword.casefold().split())[:100]
        qs = qs.filter(keywords__icontains=f'"{term}"')
    if f.person:
        # A person the user may not see matches nothing, as an unknown id does.
        qs = qs.filter(access.person_condition(user, _uuid(f.person, "person")))
    if f.assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee:
        qs = qs.filter(assignee__username=f.assignee)
    if f.since:
        qs = qs.filter(published_at__gte=f.since)
    if f.until:
        qs = qs.filter(published_at__lt=f.until)
    if f.q:
        qs = qs.filter(Q(text__icontains=f.q[:200]) | Q(author_handle__icontains=f.q[:200]))
    return qs


def mentions(user, filters: MentionFilters) -> QuerySet:
    qs = access.scope_mentions(user).select_related("source", "person", "assignee")
    return apply_filters(qs, filters, user=user)


def queue(user, filters: MentionFilters | None = None) -> QuerySet:
    """The engagement queue: open mentions ``user`` may see, to be ordered by QUEUE_ORDER."""
    filters = filters or MentionFilters()
    if filters.status is not None and any(s not in OPEN_STATUSES for s in filters.status):
        raise ValidationFailed.single("status", "The queue holds new and assigned mentions.")
    if filters.status is not None and set(filters.status) >= set(OPEN_STATUSES):
        filters.status = None  # both open statuses: is_open says it, through the index
    return slim(mentions(user, filters).filter(OPEN))


# What a queue row shows of its related records (``api.mention_out``, _queue_rows.html),
# and the person's visibility, owner and team: whether the reader may be shown the person
# is answered from them (``access.shown_person``) without a query per row.
_RELATED_SHOWN = (
    "source__public_id",
    "source__name",
    "person__public_id",
    "person__display_name",
    "person__status",
    "person__visibility",
    "person__owner",
    "person__team",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "duplicate_of__public_id",
)


def slim(qs: QuerySet) -> QuerySet:
    """The mentions with only the columns a queue row shows of their source, person,
    assignee and duplicate. Most of a page's cost is Python building model instances:
    the whole party (notes, attributes, search text), user and duplicate mention per row
    cost more than the index range that finds the page. Other related fields still load
    when read (one query each), so nothing breaks, it only costs more."""
    own = [f.name for f in Mention._meta.concrete_fields]
    return qs.select_related("source", "person", "assignee", "duplicate_of").only(
        *own, *_RELATED_SHOWN
    )
