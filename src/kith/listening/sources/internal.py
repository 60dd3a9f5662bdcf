"""Kith's own voices as sources: community posts (kind ``community``) and the customers'
case messages (kind ``case_mail``), so internal and external voices are counted together.

Both read the database, no network: the rows after the stored cursor
(``state["last_id"]``, the primary key of the last row handed over), oldest first, at
most ``BATCH`` a poll (a first poll of a large community catches up over a few polls).

A row becomes visible to this reader only ``SETTLE`` after it was created: ids are taken
at insert and a transaction may commit a lower id after a higher one is already read, so
reading right up to the newest row could step over a row that commits late. Rows the
reader should not count are passed over for good: deleted or hidden (pending review)
posts, posts in staff-only spaces and staff's own posts (the company's voice, unless
``include_staff``), internal notes and staff replies on cases (only ``inbound``
messages, the customer's, are read).

Each mention names the person directly (``raw["party_id"]``): the author is a known
user or a case's sender, no handle matching is needed. ``raw["mirror"]`` names the
record the mention mirrors, so access to the mention can follow the original's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from kith.listening.incoming import FetchResult, IncomingMention
from kith.listening.sources import SourceKind
from kith.listening.sources.config import ConfigChecker
from kith.listening.sources.text import html_to_text, max_item_chars, tidy, truncate

BATCH = 500
SETTLE = dt.timedelta(seconds=30)


def _url(name: str, **kwargs: Any) -> str:
    try:
        return settings.KITH_BASE_URL + reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


# --- community -----------------------------------------------------------------------


def validate_community(config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    from kith.community.models import Space

    check = ConfigChecker(config, prefix=prefix)
    spaces = check.string_list("spaces")
    include_staff = check.boolean("include_staff", default=False)
    if spaces:
        known = set(Space.objects.filter(slug__in=spaces).values_list("slug", flat=True))
        missing = [s for s in spaces if s not in known]
        if missing:
            check.error("spaces", f"No such space: {', '.join(missing)}.")
    check.done()
    return {"spaces": spaces, "include_staff": include_staff}


def fetch_community(
    config: dict[str, Any], state: dict[str, Any], *, http: Any = None
) -> FetchResult:
    from kith.accounts.models import User
    from kith.community.models import Post, Space

    last_id = int(state.get("last_id") or 0)
    settled = timezone.now() - SETTLE
    rows = list(
        Post.objects.filter(id__gt=last_id, created_at__lte=settled)
        .select_related("topic", "topic__space", "author", "parent")
        .order_by("id")[:BATCH]
    )
    if not rows:
        return FetchResult(items=[], state=dict(state), not_modified=True)
    spaces = set(config.get("spaces") or [])
    include_staff = bool(config.get("include_staff"))
    limit = max_item_chars()
    items = []
    for post in rows:
        topic = post.topic
        space = topic.space
        author = post.author
        if post.deleted_at or post.hidden_at or topic.deleted_at or topic.hidden_at:
            continue
        if spaces and space.slug not in spaces:
            continue
        is_staff = author is not None and author.kind == User.Kind.STAFF
        if not include_staff and (is_staff or space.audience == Space.Audience.STAFF):
            continue
        body = html_to_text(post.body_html, limit=limit) if post.body_html else tidy(post.body)
        text = f"{topic.title}\n\n{body}" if post.kind == Post.Kind.QUESTION else body
        original = len(text)
        text, was_truncated = truncate(text, limit)
        raw: dict[str, Any] = {
            "mirror": "community.post",
            "post_id": post.id,
            "topic": str(topic.public_id),
            "space": space.slug,
            "audience": space.audience,
            "kind": post.kind,
        }
        if author is not None and author.person_id:
            raw["party_id"] = author.person_id
        if was_truncated:
            raw.update(truncated=True, original_chars=original)
        parent = post.parent
        if parent is None and post.kind != Post.Kind.QUESTION:
            reply_to = f"post:{_question_public_id(topic)}"
        else:
            reply_to = f"post:{parent.public_id}" if parent is not None else ""
        items.append(
            IncomingMention(
                external_id=f"post:{post.public_id}",
                text=text,
                channel="community",
                url=_url("community:topic", public_id=topic.public_id),
                published_at=post.created_at,
                author_handle=(
                    author.email.lower()
                    if author and author.email
                    else (author.username if author else "")
                ),
                author_name=(author.get_full_name() or author.username)[:200] if author else "",
                in_reply_to=reply_to if reply_to != "post:" else "",
                raw=raw,
            )
        )
    # A full batch: there is more to read, the poller comes back at once.
    return FetchResult(
        items=items, state={**state, "last_id": rows[-1].id, "more": len(rows) == BATCH}
    )


def _question_public_id(topic: Any) -> str:
    from kith.community.models import Post

    if not hasattr(topic, "_listening_question"):
        topic._listening_question = (
            Post.objects.filter(topic=topic, kind=Post.Kind.QUESTION)
            .values_list("public_id", flat=True)
            .first()
        )
    return str(topic._listening_question or "")


# --- case mail -----------------------------------------------------------------------


def validate_case_mail(config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    from kith.service.models import Queue

    check = ConfigChecker(config, prefix=prefix)
    queues = check.string_list("queues")
    if queues:
        known = set(Queue.objects.filter(name__in=queues).values_list("name", flat=True))
        missing = [q for q in queues if q not in known]
        if missing:
            check.error("queues", f"No such queue: {', '.join(missing)}.")
    check.done()
    return {"queues": queues}


def fetch_case_mail(
    config: dict[str, Any], state: dict[str, Any], *, http: Any = None
) -> FetchResult:
    from kith.service.models import CaseMessage

    last_id = int(state.get("last_id") or 0)
    settled = timezone.now() - SETTLE
    rows = list(
        CaseMessage.objects.filter(id__gt=last_id, created_at__lte=settled)
        .select_related("case", "case__queue", "sender")
        .order_by("id")[:BATCH]
    )
    if not rows:
        return FetchResult(items=[], state=dict(state), not_modified=True)
    queues = set(config.get("queues") or [])
    limit = max_item_chars()
    items = []
    for message in rows:
        case = message.case
        if message.kind != CaseMessage.Kind.INBOUND:
            continue  # internal notes and the company's own replies are not voices
        if queues and (case.queue is None or case.queue.name not in queues):
            continue
        body = tidy(message.body_text) or html_to_text(message.body_html, limit=limit)
        subject = tidy(message.subject or "")
        text = f"{subject}\n\n{body}" if subject and body else (subject or body)
        if not text:
            continue
        original = len(text)
        text, was_truncated = truncate(text, limit)
        party_id = message.sender_id or case.requester_id
        raw: dict[str, Any] = {
            "mirror": "service.casemessage",
            "case_message_id": message.id,
            "case_id": case.id,
            "case": str(case.public_id),
            "case_number": case.number,
            "party_id": party_id,
        }
        if was_truncated:
            raw.update(truncated=True, original_chars=original)
        items.append(
            IncomingMention(
                external_id=f"case_message:{message.public_id}",
                text=text,
                channel="email" if message.from_email else "portal",
                url=_url("service:case", public_id=case.public_id),
                published_at=message.occurred_at,
                author_handle=(message.from_email or "").lower()[:255],
                author_name=(message.sender.display_name if message.sender else "")[:200],
                raw=raw,
            )
        )
    # A full batch: there is more to read, the poller comes back at once.
    return FetchResult(
        items=items, state={**state, "last_id": rows[-1].id, "more": len(rows) == BATCH}
    )


KINDS = (
    SourceKind(
        name="community",
        label="Own community",
        validate=validate_community,
        fetch=fetch_community,
        network=False,
        default_interval_seconds=300,
    ),
    SourceKind(
        name="case_mail",
        label="Own case e-mail",
        validate=validate_case_mail,
        fetch=fetch_case_mail,
        network=False,
        default_interval_seconds=300,
    ),
)
