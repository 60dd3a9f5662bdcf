"""HTTP API for kith.listening (thin: parse, check access, call a service or query, serialise).

Staff read sources, keywords, mentions and the queue; writers work the queue; admins and
managers configure sources and keywords; customers and strangers get 404 (see
``kith.listening.access``). The inbound webhook is the one endpoint without a login: it
is authenticated by its HMAC signature (``kith.listening.payloads``).
"""

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from kith.accounts.models import User
from kith.core.context import channel
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.pagination import clamp_limit, paginate
from kith.listening import access, payloads, queries, services
from kith.listening import sources as kinds
from kith.listening.models import Keyword, Mention, Source, SourceKind

router = Router(tags=["listening"])


# ---------------------------------------------------------------- schemas


class SourceOut(Schema):
    id: uuid.UUID
    kind: str
    name: str
    enabled: bool
    config: dict[str, Any]
    poll_interval_seconds: int
    next_poll_at: dt.datetime | None
    last_polled_at: dt.datetime | None
    last_success_at: dt.datetime | None
    status: str
    error_code: str
    error_message: str
    consecutive_failures: int
    queue: uuid.UUID | None
    first_response_minutes: int
    mention_count: int
    webhook_url: str | None
    created_at: dt.datetime


class SourceCreated(SourceOut):
    webhook_secret: str | None = None  # shown once, on creation or rotation


class SourcePage(Schema):
    items: list[SourceOut]
    next_cursor: str | None


class SourceIn(Schema):
    kind: str
    name: str
    config: dict[str, Any] = {}
    enabled: bool = True
    poll_interval_seconds: int = 900
    first_response_minutes: int = 240
    queue: uuid.UUID | None = None


class SourcePatch(Schema):
    name: str | None = None
    config: dict[str, Any] | None = None
    enabled: bool | None = None
    poll_interval_seconds: int | None = None
    first_response_minutes: int | None = None
    queue: uuid.UUID | None = None


class KeywordOut(Schema):
    id: uuid.UUID
    term: str
    is_competitor: bool
    active: bool


class KeywordIn(Schema):
    term: str
    is_competitor: bool = False


class KeywordPatch(Schema):
    term: str | None = None
    is_competitor: bool | None = None
    active: bool | None = None


class PersonRef(Schema):
    id: uuid.UUID
    name: str


class MentionOut(Schema):
    id: uuid.UUID
    source: uuid.UUID
    source_name: str
    external_id: str
    channel: str
    text: str
    url: str
    published_at: dt.datetime
    received_at: dt.datetime
    author_handle: str
    author_name: str
    author_url: str
    author_followers: int | None
    language: str
    sentiment: str
    sentiment_confidence: float
    sentiment_score: float
    keywords: list[str]
    hashtags: list[str]
    topic: str
    person: PersonRef | None
    status: str
    assignee: str | None
    priority: float
    first_response_due: dt.datetime | None
    responded_at: dt.datetime | None
    reply_url: str
    converted_kind: str
    converted_url: str
    duplicate_of: uuid.UUID | None


class MentionPage(Schema):
    items: list[MentionOut]
    next_cursor: str | None


class MentionIngestOut(Schema):
    created: int
    duplicates: int
    near_duplicates: int
    matched: int
    rejected: list[dict[str, Any]]


class QueuedOut(Schema):
    queued: str


class MentionAssignIn(Schema):
    assignee: str | None = None  # a username; null unassigns


class ReplyIn(Schema):
    url: str = ""


class ConvertIn(Schema):
    kind: str
    person: uuid.UUID | None = None
    category: uuid.UUID | None = None  # ideas: the category (default: the first one)


class BulkIn(Schema):
    ids: list[uuid.UUID]
    action: str
    assignee: str | None = None
    url: str = ""


class BulkOut(Schema):
    done: list[str]
    failed: list[dict[str, str]]


# ---------------------------------------------------------------- serialisers


def source_out(source: Source, *, secret: str = "") -> dict:
    data = {
        "id": source.public_id,
        "kind": source.kind,
        "name": source.name,
        "enabled": source.enabled,
        # Secrets (a Mastodon access token) never leave Kith: masked, see sources.redacted.
        "config": kinds.redacted(source.kind, source.config or {}),
        "poll_interval_seconds": source.poll_interval_seconds,
        "next_poll_at": source.next_poll_at,
        "last_polled_at": source.last_polled_at,
        "last_success_at": source.last_success_at,
        "status": source.status,
        "error_code": source.error_code,
        "error_message": source.error_message,
        "consecutive_failures": source.consecutive_failures,
        "queue": source.queue.public_id if source.queue_id else None,
        "first_response_minutes": source.first_response_minutes,
        "mention_count": source.mention_count,
        "webhook_url": (
            f"/api/listening/webhooks/{source.public_id}"
            if source.kind == SourceKind.WEBHOOK
            else None
        ),
        "created_at": source.created_at,
    }
    if secret:
        data["webhook_secret"] = secret
    return data


def keyword_out(k: Keyword) -> dict:
    return {"id": k.public_id, "term": k.term, "is_competitor": k.is_competitor, "active": k.active}


def mention_out(m: Mention, *, viewer) -> dict:
    """``m`` as ``viewer`` may see it: its matched person only when ``viewer`` may see
    that person (else ``null``, as for a mention matched to nobody)."""
    person = access.shown_person(viewer, m)
    return {
        "id": m.public_id,
        "source": m.source.public_id,
        "source_name": m.source.name,
        "external_id": m.external_id,
        "channel": m.channel,
        "text": m.text,
        "url": m.url,
        "published_at": m.published_at,
        "received_at": m.received_at,
        "author_handle": m.author_handle,
        "author_name": m.author_name,
        "author_url": m.author_url,
        "author_followers": m.author_followers,
        "language": m.language,
        "sentiment": m.sentiment_label,
        "sentiment_confidence": m.sentiment_confidence,
        "sentiment_score": m.sentiment_score,
        "keywords": m.keywords,
        "hashtags": m.hashtags,
        "topic": m.topic,
        "person": {"id": person.public_id, "name": person.display_name} if person else None,
        "status": m.status,
        "assignee": m.assignee.username if m.assignee_id else None,
        "priority": m.priority,
        "first_response_due": m.first_response_due,
        "responded_at": m.responded_at,
        "reply_url": m.reply_url,
        "converted_kind": m.converted_kind,
        "converted_url": m.converted_url,
        "duplicate_of": m.duplicate_of.public_id if m.duplicate_of_id else None,
    }


def _fresh(m: Mention, viewer) -> dict:
    return mention_out(
        Mention.objects.select_related("source", "person", "assignee", "duplicate_of").get(pk=m.pk),
        viewer=viewer,
    )


def _queue(public_id: uuid.UUID | None):
    if public_id is None:
        return None
    from kith.service.models import Queue

    queue = Queue.objects.filter(public_id=public_id).first()
    if queue is None:
        raise ValidationFailed.single("queue", "No such queue.")
    return queue


def _staff_user(username: str | None, field: str) -> User | None:
    if not username:
        return None
    user = User.objects.filter(username=username, kind=User.Kind.STAFF, is_active=True).first()
    if user is None:
        raise ValidationFailed.single(field, "No active staff user with that username.")
    return user


# ---------------------------------------------------------------- sources


@router.get("/listening/sources", response=SourcePage, url_name="listening_sources")
def list_sources(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """Every source with its schedule and error state (staff)."""
    access.require_staff(request.user)
    qs = access.scope_sources(request.user).select_related("queue")
    page = paginate(qs, order=("name", "id"), cursor=cursor, limit=clamp_limit(limit))
    return {"items": [source_out(s) for s in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/listening/sources", response={201: SourceCreated}, url_name="listening_create_source"
)
@idempotent
def create_source(request: HttpRequest, payload: SourceIn):
    """Create a source (admins, managers). A webhook source's ``webhook_secret`` is in
    this answer only: keep it, Kith cannot show it again (rotate to get a new one)."""
    access.require_configure(request.user)
    data = payload.model_dump()
    data["queue"] = _queue(payload.queue)
    with channel("api"):
        made = services.create_source(actor=request.user, data=data)
    body = SourceCreated.model_validate(source_out(made.source, secret=made.webhook_secret))
    return Status(201, body.model_dump(mode="json"))


@router.get("/listening/sources/{source_id}", response=SourceOut, url_name="listening_source")
def get_source(request: HttpRequest, source_id: str):
    return source_out(access.get_source(request.user, source_id))


@router.patch(
    "/listening/sources/{source_id}", response=SourceOut, url_name="listening_update_source"
)
def update_source(request: HttpRequest, source_id: str, payload: SourcePatch):
    source = access.get_source_for_change(request.user, source_id)
    data = payload.model_dump(exclude_unset=True)
    if "queue" in data:
        data["queue"] = _queue(payload.queue)
    for key in ("name", "enabled", "poll_interval_seconds", "first_response_minutes", "config"):
        if key in data and data[key] is None:
            raise ValidationFailed.single(key, "May not be null.")
    with channel("api"):
        source = services.update_source(actor=request.user, source=source, data=data)
    return source_out(source)


@router.delete(
    "/listening/sources/{source_id}", response={204: None}, url_name="listening_delete_source"
)
def delete_source(request: HttpRequest, source_id: str):
    source = access.get_source_for_change(request.user, source_id)
    with channel("api"):
        services.delete_source(actor=request.user, source=source)
    return Status(204, None)


@router.post(
    "/listening/sources/{source_id}/rotate-secret",
    response=SourceCreated,
    url_name="listening_rotate_secret",
)
def rotate_secret(request: HttpRequest, source_id: str):
    """A new webhook secret (shown once); the old one stops working at once."""
    source = access.get_source_for_change(request.user, source_id)
    with channel("api"):
        made = services.rotate_webhook_secret(actor=request.user, source=source)
    return source_out(made.source, secret=made.webhook_secret)


@router.post(
    "/listening/sources/{source_id}/upload",
    response={201: MentionIngestOut},
    url_name="listening_upload",
)
def upload(request: HttpRequest, source_id: str, file: File[UploadedFile]):
    """Bulk upload a ``.jsonl`` or ``.csv`` file of mentions into this source (admins,
    managers). All rows or none: any rejected row answers 422 listing every rejected
    row (``errors[].field`` names its line or row) and nothing is stored."""
    source = access.get_source_for_change(request.user, source_id)
    data = file.read(payloads.MAX_UPLOAD_BYTES + 1)
    with channel("api"):
        result = services.upload(
            actor=request.user, source=source, data=data, filename=file.name or ""
        )
    return Status(201, result.as_dict())


# ---------------------------------------------------------------- webhook


@router.post(
    "/listening/webhooks/{source_id}",
    response={200: MentionIngestOut, 202: QueuedOut},
    auth=None,
    url_name="listening_webhook",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "parameters": [
            {
                "name": payloads.TIMESTAMP_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Unix seconds when sent.",
            },
            {
                "name": payloads.SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": 'sha256=<hex HMAC-SHA256 of timestamp + "." + body>',
            },
        ],
    },
)
def webhook(request: HttpRequest, source_id: str):
    """Inbound mentions, signed with the source's secret (see kith.listening.payloads for
    the item fields). 401 ``bad_signature`` / ``stale_timestamp`` (older than five
    minutes: a replay); 400 names every bad field and stores nothing; an item already
    received is a duplicate, never stored twice. 202 when a worker will ingest it."""
    try:
        pid = uuid.UUID(source_id)
    except ValueError:
        raise NotFound("No such source.") from None
    source = Source.objects.filter(public_id=pid, kind=SourceKind.WEBHOOK, enabled=True).first()
    if source is None:
        raise NotFound("No such source.")
    with channel("webhook"):
        result = services.receive_webhook(
            source,
            timestamp=request.headers.get(payloads.TIMESTAMP_HEADER),
            signature=request.headers.get(payloads.SIGNATURE_HEADER),
            body=request.body,
        )
    if isinstance(result, str):
        return Status(202, {"queued": result})
    return Status(200, result.as_dict())


# ---------------------------------------------------------------- keywords


@router.get("/listening/keywords", response=list[KeywordOut], url_name="listening_keywords")
def list_keywords(request: HttpRequest):
    access.require_staff(request.user)
    return [keyword_out(k) for k in Keyword.objects.order_by("term")[:1000]]


@router.post("/listening/keywords", response={201: KeywordOut}, url_name="listening_create_keyword")
def create_keyword(request: HttpRequest, payload: KeywordIn):
    access.require_configure(request.user)
    with channel("api"):
        k = services.create_keyword(
            actor=request.user, term=payload.term, is_competitor=payload.is_competitor
        )
    return Status(201, keyword_out(k))


@router.patch(
    "/listening/keywords/{keyword_id}", response=KeywordOut, url_name="listening_update_keyword"
)
def update_keyword(request: HttpRequest, keyword_id: str, payload: KeywordPatch):
    k = access.get_keyword(request.user, keyword_id)
    data = {key: v for key, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    with channel("api"):
        k = services.update_keyword(actor=request.user, keyword=k, data=data)
    return keyword_out(k)


@router.delete(
    "/listening/keywords/{keyword_id}", response={204: None}, url_name="listening_delete_keyword"
)
def delete_keyword(request: HttpRequest, keyword_id: str):
    k = access.get_keyword(request.user, keyword_id)
    with channel("api"):
        services.delete_keyword(actor=request.user, keyword=k)
    return Status(204, None)


# ---------------------------------------------------------------- mentions


class MentionQuery(Schema):
    status: str = ""
    source: str = ""
    sentiment: str = ""
    language: str = ""
    topic: str = ""
    keyword: str = ""
    person: str = ""
    assignee: str = ""
    channel: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    q: str = ""
    order: str = "-published"
    cursor: str | None = None
    limit: int | None = None


def _filters(query: MentionQuery) -> queries.MentionFilters:
    return queries.MentionFilters(
        status=[s.strip() for s in query.status.split(",") if s.strip()] or None,
        source=query.source,
        sentiment=query.sentiment,
        language=query.language,
        topic=query.topic,
        keyword=query.keyword,
        person=query.person,
        assignee=query.assignee,
        channel=query.channel,
        since=query.since,
        until=query.until,
        q=query.q,
    )


@router.get("/listening/mentions", response=MentionPage, url_name="listening_mentions")
def list_mentions(request: HttpRequest, query: Query[MentionQuery]):
    """Mentions, filtered. ``status`` a comma list (default: all); ``assignee`` a
    username, ``me`` or ``none``; ``order`` one of ``-published``, ``published``,
    ``-received``, ``priority``."""
    access.require_staff(request.user)
    if query.order not in queries.ORDERS:
        raise ValidationFailed.single("order", f"One of: {', '.join(queries.ORDERS)}.")
    qs = queries.mentions(request.user, _filters(query)).select_related("duplicate_of")
    page = paginate(
        qs, order=queries.ORDERS[query.order], cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {
        "items": [mention_out(m, viewer=request.user) for m in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/listening/queue", response=MentionPage, url_name="listening_queue")
def engagement_queue(request: HttpRequest, query: Query[MentionQuery]):
    """The engagement queue: open mentions, highest priority (negativity × influence ×
    recency) first. Same filters as the mention list; ``status`` within new, assigned."""
    access.require_staff(request.user)
    qs = queries.queue(request.user, _filters(query)).select_related("duplicate_of")
    page = paginate(
        qs, order=queries.QUEUE_ORDER, cursor=query.cursor, limit=clamp_limit(query.limit)
    )
    return {
        "items": [mention_out(m, viewer=request.user) for m in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post("/listening/mentions/bulk", response=BulkOut, url_name="listening_bulk")
def bulk(request: HttpRequest, payload: BulkIn):
    """One action (assign, dismiss, spam, replied) on up to 200 mentions; each mention
    succeeds or fails on its own (``failed`` says why)."""
    access.require_work(request.user)
    if len(payload.ids) > services.MAX_BULK:
        raise ValidationFailed.single("ids", f"At most {services.MAX_BULK} mentions at once.")
    found = {
        m.public_id: m
        for m in access.scope_mentions(request.user).filter(public_id__in=payload.ids)
    }
    missing = [str(i) for i in payload.ids if i not in found]
    assignee = _staff_user(payload.assignee, "assignee") if payload.action == "assign" else None
    with channel("api"):
        outcome = services.bulk_action(
            actor=request.user,
            mentions=[found[i] for i in payload.ids if i in found],
            action=payload.action,
            assignee=assignee,
            url=payload.url,
        )
    failed = outcome.failed + [{"id": i, "reason": "No such mention."} for i in missing]
    return {"done": outcome.done, "failed": failed}


@router.get("/listening/mentions/{mention_id}", response=MentionOut, url_name="listening_mention")
def get_mention(request: HttpRequest, mention_id: str):
    return mention_out(access.get_mention(request.user, mention_id), viewer=request.user)


@router.post(
    "/listening/mentions/{mention_id}/assign",
    response=MentionOut,
    url_name="listening_assign",
)
def assign(request: HttpRequest, mention_id: str, payload: MentionAssignIn):
    m = access.get_mention_for_change(request.user, mention_id)
    with channel("api"):
        m = services.assign_mention(
            actor=request.user, mention=m, assignee=_staff_user(payload.assignee, "assignee")
        )
    return _fresh(m, request.user)


@router.post(
    "/listening/mentions/{mention_id}/reply", response=MentionOut, url_name="listening_reply"
)
def reply(request: HttpRequest, mention_id: str, payload: ReplyIn):
    """Mark the mention answered; ``url`` links the public reply."""
    m = access.get_mention_for_change(request.user, mention_id)
    with channel("api"):
        m = services.mark_replied(actor=request.user, mention=m, url=payload.url)
    return _fresh(m, request.user)


@router.post(
    "/listening/mentions/{mention_id}/convert",
    response=MentionOut,
    url_name="listening_convert",
)
def convert(request: HttpRequest, mention_id: str, payload: ConvertIn):
    """Turn the mention into a ``case``, an ``idea`` or a ``deal`` (a lead), linked back.
    A case or deal needs a person: the matched author or ``person``."""
    m = access.get_mention_for_change(request.user, mention_id)
    person = None
    if payload.person is not None:
        from kith.people import access as people_access

        try:
            person = people_access.get_party(request.user, payload.person, kind="person")
        except NotFound:
            raise ValidationFailed.single("person", "No such person.") from None
    category = None
    if payload.category is not None:
        from kith.ideas.models import Category

        category = Category.objects.filter(public_id=payload.category, archived=False).first()
        if category is None:
            raise ValidationFailed.single("category", "No such category.")
    with channel("api"):
        m = services.convert_mention(
            actor=request.user,
            mention=m,
            kind=payload.kind,
            person=person,
            idea_category=category,
        )
    return _fresh(m, request.user)


@router.post(
    "/listening/mentions/{mention_id}/dismiss", response=MentionOut, url_name="listening_dismiss"
)
def dismiss(request: HttpRequest, mention_id: str):
    m = access.get_mention_for_change(request.user, mention_id)
    with channel("api"):
        m = services.dismiss(actor=request.user, mention=m)
    return _fresh(m, request.user)


@router.post(
    "/listening/mentions/{mention_id}/spam", response=MentionOut, url_name="listening_spam"
)
def spam(request: HttpRequest, mention_id: str):
    m = access.get_mention_for_change(request.user, mention_id)
    with channel("api"):
        m = services.mark_spam(actor=request.user, mention=m)
    return _fresh(m, request.user)


@router.post(
    "/listening/mentions/{mention_id}/reopen", response=MentionOut, url_name="listening_reopen"
)
def reopen(request: HttpRequest, mention_id: str):
    m = access.get_mention_for_change(request.user, mention_id)
    with channel("api"):
        m = services.reopen(actor=request.user, mention=m)
    return _fresh(m, request.user)
