"""Staff web UI for kith.listening (thin): the engagement queue and its live stream, the
sources page, the dashboards with their CSV downloads, and the person-page panel.

Every page is a ``staff_view`` (customers are sent to the portal, others 404); reads go
through ``kith.listening.access``, writes through ``kith.listening.services``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kith.accounts.models import Role, User
from kith.collab import live as collab_live
from kith.core.errors import KithError, ValidationFailed
from kith.core.inputs import whole_number
from kith.listening import access, dashboards, queries
from kith.listening.forms import SourceForm, field_errors
from kith.listening.live import QUEUE_CHANNEL
from kith.listening.models import (
    Keyword,
    Mention,
    MentionStatus,
    Sentiment,
    Source,
    SpikeAlert,
)
from kith.web.charts import csv_response
from kith.web.decorators import staff_view

PAGE_SIZE = 50
MAX_PAGE = 200  # deeper than this, filter instead (an offset scan grows with the page)


# ---------------------------------------------------------------- the queue
def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID((raw or "").strip())
    except ValueError:
        return None


def queue_filters(request: HttpRequest) -> dict[str, Any]:
    """The queue's filters from the query string; unknown values are ignored, not errors."""
    get = request.GET
    status = get.get("status", "open")
    if status not in {"open", "all", *MentionStatus.values}:
        status = "open"
    sentiment = get.get("sentiment", "")
    if sentiment not in Sentiment.values:
        sentiment = ""
    assignee = get.get("assignee", "")
    if assignee not in ("", "me", "none"):
        # whole_number: at most 18 digits, so never past a bigint id.
        number = whole_number(assignee)
        assignee = str(number) if number else ""
    return {
        "status": status,
        "sentiment": sentiment,
        "assignee": assignee,
        "source": str(_uuid(get.get("source", "")) or ""),
        "keyword": (get.get("keyword", "") or "").strip()[:100],
    }


def queue_queryset(user, filters: dict[str, Any]) -> QuerySet[Mention]:
    """Mentions in queue order (priority rank, newest first among equals), filtered."""
    qs = queries.slim(access.scope_mentions(user))
    status = filters["status"]
    if status == "open":
        qs = qs.filter(queries.OPEN)  # the queue's index (see kith.listening.queries)
    elif status != "all":
        qs = qs.filter(status=status)
    if filters["sentiment"]:
        qs = qs.filter(sentiment_label=filters["sentiment"])
    if filters["source"]:
        qs = qs.filter(source__public_id=filters["source"])
    if filters["keyword"]:
        qs = qs.filter(dashboards.has_keyword(filters["keyword"].lower()))
    assignee = filters["assignee"]
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    return qs.order_by("-rank", "-id")


def sla_state(mention: Mention, now) -> str:
    """'breached', 'due-soon' (within an hour), 'ok', 'met' or '' (no target)."""
    if mention.responded_at:
        return (
            "met"
            if not mention.first_response_due
            or (mention.responded_at <= mention.first_response_due)
            else "late"
        )
    if not mention.first_response_due:
        return ""
    left = (mention.first_response_due - now).total_seconds()
    if left < 0:
        return "breached"
    return "due-soon" if left < 3600 else "ok"


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    filters = queue_filters(request)
    # No total count: at a million mentions COUNT(*) over the open ones would cost more
    # than the page itself; one row past the page says whether there is a next one.
    raw_page = (request.GET.get("page") or "1").strip()
    number = whole_number(raw_page)
    number = number if number is not None and 0 < number <= MAX_PAGE else 1
    start = (number - 1) * PAGE_SIZE
    found = list(queue_queryset(request.user, filters)[start : start + PAGE_SIZE + 1])
    now = timezone.now()
    # ``person``: the matched person only when the reader may see them (no query per
    # row: ``queries.slim`` loads the person's visibility, owner and team).
    rows = [
        {"m": m, "sla": sla_state(m, now), "person": access.shown_person(request.user, m)}
        for m in found[:PAGE_SIZE]
    ]
    query = urlencode({k: v for k, v in filters.items() if v})
    rows_query = f"{query}&page={number}" if number > 1 else query
    queue_url = reverse("listening:queue")
    return {
        "filters": filters,
        "page": {
            "number": number,
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if len(found) > PAGE_SIZE and number < MAX_PAGE else None,
        },
        "rows": rows,
        "query": query,
        "can_work": access.can_work(request.user),
        "rows_url": reverse("listening:queue_rows") + (f"?{rows_query}" if rows_query else ""),
        # Where actions return to and where the pager points: the queue page itself, even
        # when these rows were rendered as the fragment the page re-reads.
        "queue_url": queue_url,
        "back": queue_url + (f"?{rows_query}" if rows_query else ""),
    }


@require_GET
@staff_view
def queue(request: HttpRequest) -> HttpResponse:
    """The engagement queue: open mentions by priority, filters, actions, live updates."""
    ctx = _queue_context(request)
    ctx.update(
        {
            "nav": "listening",
            "sources": access.scope_sources(request.user).order_by("name"),
            "keywords": Keyword.objects.filter(active=True).order_by("term"),
            "agents": User.objects.filter(is_active=True, kind=User.Kind.STAFF)
            .exclude(role=Role.VIEWER)
            .order_by("username"),
            "statuses": MentionStatus.choices,
            "sentiments": Sentiment.choices,
            "stream_url": reverse("listening:stream"),
            "placeholder": ACTIONS_PLACEHOLDER,
        }
    )
    return render(request, "listening/queue.html", ctx)


# The queue page sends one copy of a mention's "More actions" forms, with this id in
# their URLs; listening.js puts the row's id in its place when the row's menu opens.
# (Six forms per row were most of the page: 264 forms on a page of 44 mentions.)
ACTIONS_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@require_GET
@staff_view
def mention_actions(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """One mention and its actions on a page of their own: the queue's menu without JavaScript."""
    mention = access.get_mention_for_change(request.user, public_id)
    back = _queue_path(request.GET.get("next", ""))
    return render(
        request,
        "listening/mention_actions.html",
        {
            "nav": "listening",
            "m": mention,
            "mid": mention.public_id,
            "next": back,
            "person": access.shown_person(request.user, mention),
        },
    )


@require_GET
@staff_view
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The queue's rows alone: re-read by the page when the stream says something changed."""
    return render(request, "listening/_queue_rows.html", _queue_context(request))


# ---------------------------------------------------------------- queue actions
def _queue_path(nxt: str) -> str:
    """``nxt`` when it is a path inside the listening pages (never another site), else
    the queue: where an action or the actions page goes back to."""
    if nxt.startswith("/listening/") and "//" not in nxt:
        return nxt
    return reverse("listening:queue")


def _back_to_queue(request: HttpRequest) -> HttpResponse:
    return redirect(_queue_path(request.POST.get("next", "")))


def _act(request: HttpRequest, action) -> HttpResponse:
    """Run a queue action; a field error or conflict becomes a message, 403/404 propagate."""
    try:
        done = action()
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        if done:
            messages.success(request, done)
    return _back_to_queue(request)


def _assignee(request: HttpRequest, raw: str):
    """'me', a user's pk, or '' (nobody); a field error when no such user."""
    if not raw:
        return None
    user = request.user if raw == "me" else None
    number = whole_number(raw)
    if number:
        user = User.objects.filter(pk=number, is_active=True).first()
    if user is None:
        raise ValidationFailed.single("assignee", "Choose someone on staff.")
    return user


def _services():
    from kith.listening import services

    return services


@require_POST
@staff_view
def assign(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    mention = access.get_mention_for_change(request.user, public_id)
    raw = request.POST.get("assignee", "")

    def run() -> str:
        user = _assignee(request, raw)
        done = _services().assign_mention(actor=request.user, mention=mention, assignee=user)
        who = getattr(done, "assignee", None)
        return f"Assigned to {who.get_username()}." if who else "Unassigned."

    return _act(request, run)


@require_POST
@staff_view
def reply(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    mention = access.get_mention_for_change(request.user, public_id)

    def run() -> str:
        _services().mark_replied(
            actor=request.user, mention=mention, url=request.POST.get("reply_url", "")
        )
        return "Marked as replied."

    return _act(request, run)


@require_POST
@staff_view
def convert(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Turn the mention into a case, an idea or a lead (deal); go to what was made."""
    mention = access.get_mention_for_change(request.user, public_id)
    kind = request.POST.get("kind", "")
    if kind not in ("case", "idea", "deal"):
        messages.error(request, "kind: Choose case, idea or lead.")
        return _back_to_queue(request)
    try:
        done = _services().convert_mention(actor=request.user, mention=mention, kind=kind)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
        return _back_to_queue(request)
    done = done if isinstance(done, Mention) else Mention.objects.get(pk=mention.pk)
    label = {"case": "a case", "idea": "an idea", "deal": "a lead"}[kind]
    messages.success(request, f"Converted into {label}.")
    if request.POST.get("stay") or not done.converted_url:
        return _back_to_queue(request)
    return redirect(done.converted_url)


@require_POST
@staff_view
def dismiss(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    mention = access.get_mention_for_change(request.user, public_id)
    return _act(
        request,
        lambda: _services().dismiss(actor=request.user, mention=mention) and "Dismissed.",
    )


@require_POST
@staff_view
def spam(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    mention = access.get_mention_for_change(request.user, public_id)
    return _act(
        request,
        lambda: _services().mark_spam(actor=request.user, mention=mention) and "Marked as spam.",
    )


@require_POST
@staff_view
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on the ticked mentions (each checked for access like a single action)."""
    access.require_work(request.user)
    action = request.POST.get("action", "")
    ids = [u for u in (_uuid(v) for v in request.POST.getlist("mention")[:500]) if u]

    def run() -> str:
        if not ids:
            raise ValidationFailed.single("mention", "Tick at least one mention.")
        mentions = list(access.scope_mentions(request.user).filter(public_id__in=ids))
        assignee = (
            _assignee(request, request.POST.get("assignee", "")) if action == "assign" else None
        )
        outcome = _services().bulk_action(
            actor=request.user, mentions=mentions, action=action, assignee=assignee
        )
        n = len(outcome.done)
        text = f"{n} mention{'s' if n != 1 else ''} updated."
        if outcome.failed:
            text += f" {len(outcome.failed)} could not be: {outcome.failed[0]['reason']}"
        return text

    return _act(request, run)


# ---------------------------------------------------------------- live stream
def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


@require_GET
@staff_view
def stream(request: HttpRequest) -> HttpResponse:
    """Server-Sent Events for the queue page: 'changed' whenever a mention changes.

    Two feeds, because they arrive differently: queue actions emit their events inline
    (``kith.listening.live`` publishes them on the broker at once), while a new batch's
    ``mention.received`` is a bulk event the worker delivers later; so the stream also
    looks for a higher mention id every ``KITH_LISTENING_QUEUE_POLL_SECONDS`` (one
    primary-key lookup), and a webhook's mention shows within that time with or without
    a worker. Limits and heartbeats are the collaboration stream's
    (``KITH_COLLAB_SSE_MAX_SECONDS``, ``KITH_COLLAB_SSE_HEARTBEAT_SECONDS``).
    """
    subscription = collab_live.get_broker().subscribe([QUEUE_CHANNEL])
    timing = (
        _setting("KITH_COLLAB_SSE_MAX_SECONDS", 300),
        _setting("KITH_COLLAB_SSE_HEARTBEAT_SECONDS", 15),
        _setting("KITH_LISTENING_QUEUE_POLL_SECONDS", 2),
    )
    last_id = _latest_mention_id()
    if isinstance(request, ASGIRequest):
        body = _async_events(subscription, last_id, *timing)
    else:
        body = _sync_events(subscription, last_id, *timing)
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _latest_mention_id() -> int:
    return Mention.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _frame(message: dict) -> bytes | None:
    if message.get("type") != "mention":
        return None
    # Only the public id and the event travel: the page re-reads its rows through access.
    return collab_live.sse(
        "changed", {"mention": str(message.get("mention", "")), "event": message.get("event")}
    )


ARRIVED = {"type": "mention", "event": "mention.received", "mention": ""}


def _sync_events(subscription, last_id: int, max_seconds: float, heartbeat: float, poll: float):
    try:
        yield b"retry: 1000\n\n"
        yield collab_live.sse("hello", {})
        now = time.monotonic()
        deadline, beat, next_poll = now + max_seconds, now + heartbeat, now + poll
        while (now := time.monotonic()) < deadline:
            message = subscription.get(timeout=max(0.0, min(beat, next_poll, deadline) - now))
            if message is not None:
                frame = _frame(message)
                if frame:
                    yield frame
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + poll
                latest = _latest_mention_id()
                if latest > last_id:
                    last_id = latest
                    yield _frame(ARRIVED)
            if now >= beat:
                beat = now + heartbeat
                yield b": heartbeat\n\n"
        yield collab_live.sse("bye", {})
    finally:
        subscription.close()
        close_old_connections()


async def _async_events(
    subscription, last_id: int, max_seconds: float, heartbeat: float, poll: float
):
    latest_id = sync_to_async(_latest_mention_id)
    try:
        yield b"retry: 1000\n\n"
        yield collab_live.sse("hello", {})
        now = time.monotonic()
        deadline, beat, next_poll = now + max_seconds, now + heartbeat, now + poll
        while (now := time.monotonic()) < deadline:
            message = subscription.get(timeout=0)
            if message is not None:
                frame = _frame(message)
                if frame:
                    yield frame
                continue
            if now >= next_poll:
                next_poll = now + poll
                latest = await latest_id()
                if latest > last_id:
                    last_id = latest
                    yield _frame(ARRIVED)
            if now >= beat:
                beat = now + heartbeat
                yield b": heartbeat\n\n"
            await asyncio.sleep(0.1)
        yield collab_live.sse("bye", {})
    finally:
        subscription.close()
        # A function, so ``connection`` is looked up in the thread that closes it (the
        # bound method taken here would be this event loop thread's connection).
        await sync_to_async(_close_connection)()


def _close_connection() -> None:
    connection.close()


# ---------------------------------------------------------------- dashboards
def _range_or_error(request: HttpRequest) -> tuple[dashboards.Range | None, list]:
    try:
        rng = dashboards.parse_range(
            request.GET.get("from"), request.GET.get("to"), request.GET.get("source")
        )
    except ValidationFailed as exc:
        return None, exc.errors
    return rng, []


@require_GET
@staff_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """Volume and sentiment over time, share of voice, top authors and topics, response times."""
    access.require_staff(request.user)
    rng, errors = _range_or_error(request)
    ctx: dict[str, Any] = {
        "nav": "listening",
        "errors": {e.field: e.message for e in errors},
        "raw": {k: request.GET.get(k, "") for k in ("from", "to", "source")},
        "sources": access.scope_sources(request.user).order_by("name"),
    }
    if rng is None:
        return render(request, "listening/dashboards.html", ctx, status=422)

    def csv_url(name: str) -> str:
        return reverse("listening:dashboard_csv", args=[name]) + "?" + urlencode(rng.query())

    authors = dashboards.top_authors(rng, user=request.user)
    sov = dashboards.share_of_voice(rng)
    ctx.update(
        {
            "rng": rng,
            "summary": dashboards.summary(rng),
            "volume": dashboards.volume(rng).render(csv_url=csv_url("volume")),
            "negative_share": dashboards.negative_share(rng).render(
                csv_url=csv_url("negative-share")
            ),
            "share_of_voice": sov.render(csv_url=csv_url("share-of-voice")),
            "sov_totals": dashboards.share_of_voice_totals(sov),
            "authors": authors,
            "authors_chart": dashboards.top_authors_chart(authors).render(
                csv_url=csv_url("top-authors")
            ),
            "topics": dashboards.top_topics(rng).render(csv_url=csv_url("top-topics")),
            "response_times": dashboards.response_times(rng).render(
                csv_url=csv_url("response-times")
            ),
            "alerts": SpikeAlert.objects.select_related("source", "keyword")[:10],
        }
    )
    return render(request, "listening/dashboards.html", ctx)


@require_GET
@staff_view
def dashboard_csv(request: HttpRequest, name: str) -> HttpResponse:
    """One chart's numbers as CSV, for the same range and source as the page."""
    access.require_staff(request.user)
    rng = dashboards.parse_range(
        request.GET.get("from"), request.GET.get("to"), request.GET.get("source")
    )
    data = dashboards.chart_by_name(name, rng, user=request.user)
    if data is None:
        from kith.core.errors import NotFound

        raise NotFound("No such chart.")
    return csv_response(data, f"listening-{name}-{rng.first}-{rng.last}.csv")


# ---------------------------------------------------------------- person panel
PANEL_LIMIT = 10


def party_panel(request: HttpRequest, party) -> str | None:
    """The person's mentions on their page (staff only), newest first."""
    if not access.is_staff(request.user):
        return None
    qs = access.scope_mentions(request.user).filter(person=party)
    mentions = list(qs.select_related("source").order_by("-published_at", "-id")[:PANEL_LIMIT])
    if not mentions:
        return None
    return render_to_string(
        "listening/_party_panel.html",
        {"mentions": mentions, "total": qs.count(), "party": party},
        request=request,
    )


# ---------------------------------------------------------------- sources
@require_GET
@staff_view
def sources(request: HttpRequest) -> HttpResponse:
    """Sources with their status, error state, last poll and counts."""
    rows = access.scope_sources(request.user).select_related("owner").order_by("name")
    return render(
        request,
        "listening/sources.html",
        {
            "nav": "listening",
            "sources": rows,
            "can_configure": access.can_configure(request.user),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view
def source_new(request: HttpRequest) -> HttpResponse:
    access.require_configure(request.user)
    return _source_form(request, None)


@require_http_methods(["GET", "POST"])
@staff_view
def source_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    source = access.get_source(request.user, public_id)
    if request.method == "POST":
        access.require_configure(request.user)
    return _source_form(request, source)


def _source_form(request: HttpRequest, source: Source | None) -> HttpResponse:
    if request.method == "POST":
        form = SourceForm(request.POST, instance=source)
        if form.is_valid():
            try:
                saved, secret = form.save_through_services(actor=request.user)
            except ValidationFailed as exc:
                field_errors(form, exc)
            else:
                if secret:
                    # Shown once, on this page only; never stored in plain text.
                    return render(
                        request,
                        "listening/source_secret.html",
                        {"nav": "listening", "source": saved, "secret": secret},
                    )
                messages.success(request, f"Saved {saved.name}.")
                return redirect("listening:sources")
        status = 422
    else:
        form = SourceForm(instance=source)
        status = 200
    return render(
        request,
        "listening/source_form.html",
        {
            "nav": "listening",
            "form": form,
            "source": source,
            "can_configure": access.can_configure(request.user),
        },
        status=status,
    )


@require_POST
@staff_view
def source_pause(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    source = access.get_source_for_change(request.user, public_id)
    pause = request.POST.get("enabled", "0") != "1"

    def run() -> str:
        _services().update_source(actor=request.user, source=source, data={"enabled": not pause})
        return f"{source.name} {'paused' if pause else 'resumed'}."

    try:
        done = run()
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("listening:sources")


@require_POST
@staff_view
def source_upload(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Bulk upload of JSON Lines or CSV into an upload source; shows the rejected rows."""
    source = access.get_source_for_change(request.user, public_id)
    upload = request.FILES.get("file")
    report = None
    rejected: list = []
    error = ""
    if upload is None:
        error = "file: Choose a JSON Lines or CSV file."
    else:
        try:
            report = _services().upload(
                actor=request.user, source=source, filename=upload.name or "", data=upload.read()
            )
        except KithError as exc:
            if exc.status in (403, 404):
                raise
            error, rejected = exc.message, exc.errors
    return render(
        request,
        "listening/upload_report.html",
        {
            "nav": "listening",
            "source": source,
            "report": report,
            "error": error,
            "rejected": rejected,
        },
        status=422 if error else 200,
    )


# ---------------------------------------------------------------- keywords
def _keyword_page(
    request: HttpRequest,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    editing: Keyword | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = list(Keyword.objects.order_by("-active", "term")[:1000])
    return render(
        request,
        "listening/keywords.html",
        {
            "nav": "listening",
            "keywords": [k for k in rows if not k.is_competitor],
            "competitors": [k for k in rows if k.is_competitor],
            "can_configure": access.can_configure(request.user),
            "errors": errors or {},
            "values": values or {},
            "editing": editing,
        },
        status=status,
    )


def _kw_errors(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors} or {"term": exc.message}


@require_http_methods(["GET", "POST"])
@staff_view
def keywords(request: HttpRequest) -> HttpResponse:
    """Tracked keywords (the brand, products) and competitors; admins and managers add."""
    access.require_staff(request.user)
    if request.method == "GET":
        return _keyword_page(request)
    access.require_configure(request.user)
    values = {
        "term": (request.POST.get("term") or "")[:200],
        "is_competitor": request.POST.get("is_competitor") == "on",
    }
    try:
        keyword = _services().create_keyword(
            actor=request.user, term=values["term"], is_competitor=values["is_competitor"]
        )
    except ValidationFailed as exc:
        return _keyword_page(request, errors=_kw_errors(exc), values=values, status=422)
    messages.success(request, f"Now tracking {keyword.term}.")
    return redirect("listening:keywords")


@require_http_methods(["GET", "POST"])
@staff_view
def keyword_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Rename a keyword, make it a competitor or not, pause or resume it."""
    keyword = access.get_keyword(request.user, public_id)
    if request.method == "GET":
        return _keyword_page(request, editing=keyword)
    access.require_configure(request.user)
    values = {
        "term": (request.POST.get("term") or "")[:200],
        "is_competitor": request.POST.get("is_competitor") == "on",
        "active": request.POST.get("active") == "on",
    }
    try:
        keyword = _services().update_keyword(actor=request.user, keyword=keyword, data=values)
    except ValidationFailed as exc:
        return _keyword_page(
            request, errors=_kw_errors(exc), values=values, editing=keyword, status=422
        )
    messages.success(request, f"Saved {keyword.term}.")
    return redirect("listening:keywords")


@require_POST
@staff_view
def keyword_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    keyword = access.get_keyword(request.user, public_id)
    access.require_configure(request.user)
    term = keyword.term
    _services().delete_keyword(actor=request.user, keyword=keyword)
    messages.success(request, f"Stopped tracking {term}.")
    return redirect("listening:keywords")
