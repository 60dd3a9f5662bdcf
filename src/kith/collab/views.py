"""Web UI for collaboration (thin: access + services + queries + templates).

Pages: my feed, a record's feed, groups, topics, notifications. The feed widget
(``collab/_feed.html``) is served on its own at ``/collab/feed/<kind>/<uuid>/`` so any
page can embed it with htmx or ``{% include %}``. Live updates come over Server-Sent
Events from ``/collab/stream/``; each message is re-checked against the access layer
for the reader before anything is rendered into the stream.

Staff and portal users (customers, partners) both use these pages; what each sees is
decided by ``kith.collab.access``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.accounts.models import User
from kith.core import timezones
from kith.core.context import channel as audit_channel
from kith.core.errors import KithError, NotFound
from kith.people.models import Party

from . import access, live, queries, services
from .models import Attachment, Comment, Group, Membership, NotificationSettings, Post, Topic

PAGE = 20


def collab_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required (staff or portal), user's time zone, audit channel "web"."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.htmx:
                return HttpResponseClientRedirect(redirect_to_login(request.get_full_path()).url)
            return redirect_to_login(request.get_full_path())
        with audit_channel("web"), timezone.override(timezones.of_user(request.user)):
            return view(request, *args, **kwargs)

    return wrapper


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next") or fallback
    if not target.startswith("/") or target.startswith("//"):
        target = fallback
    return redirect(target)


# ---------------------------------------------------------------- feed widget


def feed_url(target) -> str:
    return reverse("collab:feed", args=[access.kind_of(target), target.public_id])


def record_url(target) -> str:
    if isinstance(target, Group):
        return reverse("collab:group", args=[target.public_id])
    return reverse("collab:record", args=[access.kind_of(target), target.public_id])


def post_context(request: HttpRequest, post: Post) -> dict[str, Any]:
    if not hasattr(post, "attachment_list"):
        queries.attach_details([post])
    return {
        "post": post,
        "reactions": queries.reaction_summary(post, request.user),
        "can_edit": access.can_change_post(request.user, post),
        "can_delete": access.can_delete_post(request.user, post),
        "can_comment": access.is_external(request.user) or request.user.can_write,
        "target": queries.target_info(post),
    }


def _cards(request: HttpRequest, posts: list[Post]) -> list[dict[str, Any]]:
    return [post_context(request, p) for p in posts]


def feed_context(request: HttpRequest, target, *, cursor: str | None = None) -> dict[str, Any]:
    user = request.user
    page = queries.record_feed(user, target, cursor=cursor, limit=PAGE, comments=True)
    external = access.is_external(user)
    follow = queries.follow_of(user, target)
    can_post = (external or user.can_write) and (
        not isinstance(target, Group) or access.is_member(user, target) or user.sees_everything
    )
    choices = [("internal", "Internal"), ("public", "Shared with customers")]
    if isinstance(target, Group):
        choices = [("group", "Group members")] + ([] if external else [("internal", "Staff only")])
    elif external:
        choices = [("public", "Shared")]
    return {
        "target": target,
        "target_kind": access.kind_of(target),
        "feed_url": feed_url(target),
        "stream_url": reverse("collab:stream")
        + f"?feed={access.kind_of(target)}:{target.public_id}",
        "cards": _cards(request, page.items),
        "next_cursor": page.next_cursor,
        "can_post": can_post,
        "visibility_choices": choices,
        "follow": follow,
        "is_group": isinstance(target, Group),
    }


@collab_view
def feed(request: HttpRequest, kind: str, public_id) -> HttpResponse:
    """The embeddable feed widget: GET renders it (or a further page), POST adds a post."""
    target = access.get_target(request.user, kind, public_id)
    status = 200
    error = None
    if request.method == "POST":
        try:
            services.create_post(
                actor=request.user,
                target=target,
                body=request.POST.get("body", ""),
                visibility=request.POST.get("visibility") or None,
            )
        except KithError as exc:
            if exc.status in (403, 404):
                raise
            error, status = exc, exc.status
        if not request.htmx and error is None:
            return _back(request, record_url(target))
    cursor = request.GET.get("cursor")
    context = feed_context(request, target, cursor=cursor)
    context["error"] = error
    context["body"] = request.POST.get("body", "") if error else ""
    if cursor and request.htmx:
        return render(request, "collab/_feed_more.html", context)
    return render(request, "collab/_feed.html", context, status=status)


@collab_view
@require_GET
def record(request: HttpRequest, kind: str, public_id) -> HttpResponse:
    """A record's own collaboration page (people and organisation pages can embed the widget)."""
    target = access.get_target(request.user, kind, public_id)
    if isinstance(target, Group):
        return redirect("collab:group", public_id=target.public_id)
    context = feed_context(request, target)
    back = ""
    if isinstance(target, Party) and not access.is_external(request.user):
        back = reverse(
            "people:person" if target.is_person else "people:organization",
            args=[target.public_id],
        )
    context.update(nav="collab", back=back, page_title=str(target))
    return render(request, "collab/record.html", context)


@collab_view
@require_GET
def post_detail(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    if request.htmx:
        return render(request, "collab/_post.html", post_context(request, post))
    return render(
        request, "collab/post.html", {**post_context(request, post), "nav": "collab", "open": True}
    )


def _post_card(request: HttpRequest, post: Post) -> HttpResponse:
    post = queries._with_details(Post.objects.filter(pk=post.pk))[0]
    return render(request, "collab/_post.html", post_context(request, post))


@collab_view
@require_POST
def comment(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    try:
        services.create_comment(actor=request.user, post=post, body=request.POST.get("body", ""))
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    return (
        _post_card(request, post)
        if request.htmx
        else _back(request, f"/collab/posts/{post.public_id}/")
    )


@collab_view
@require_POST
def edit(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    try:
        services.edit_post(actor=request.user, post=post, body=request.POST.get("body", ""))
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    return (
        _post_card(request, post)
        if request.htmx
        else _back(request, f"/collab/posts/{post.public_id}/")
    )


@collab_view
@require_POST
def delete(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    services.delete_post(actor=request.user, post=post)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, "Post deleted.")
    target = access.target_of(post)
    return _back(request, record_url(target) if target is not None else "/collab/")


@collab_view
@require_POST
def react(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    emoji = request.POST.get("emoji", "")
    if any(r["emoji"] == emoji and r["mine"] for r in queries.reaction_summary(post, request.user)):
        services.unreact(actor=request.user, post=post, emoji=emoji)
    else:
        services.react(actor=request.user, post=post, emoji=emoji)
    return (
        _post_card(request, post)
        if request.htmx
        else _back(request, f"/collab/posts/{post.public_id}/")
    )


@collab_view
@require_POST
def delete_comment(request: HttpRequest, public_id) -> HttpResponse:
    row = Comment.objects.select_related("post").filter(public_id=public_id).first()
    if row is None or not access.can_see_post(request.user, row.post):
        raise NotFound("No such comment.")
    services.delete_comment(actor=request.user, comment=row)
    return _post_card(request, row.post) if request.htmx else _back(request, "/collab/")


@collab_view
@require_POST
def attach(request: HttpRequest, public_id) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to attach.")
    else:
        try:
            services.add_attachment(actor=request.user, upload=upload, post=post)
        except KithError as exc:
            if exc.status in (403, 404):
                raise
            messages.error(request, exc.message)
    return _back(request, f"/collab/posts/{post.public_id}/")


@collab_view
@require_GET
def attachment(request: HttpRequest, public_id) -> HttpResponse:
    """Download an attachment: only readers of its post, always as a download."""
    att = Attachment.objects.select_related("post").filter(public_id=public_id).first()
    if att is None or att.post is None or not access.can_see_post(request.user, att.post):
        raise NotFound("No such attachment.")
    response = FileResponse(
        default_storage.open(att.file.name, "rb"),
        as_attachment=True,
        filename=att.name,
        content_type=att.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


@collab_view
@require_POST
def follow_toggle(request: HttpRequest, kind: str, public_id) -> HttpResponse:
    target = access.get_target(request.user, kind, public_id)
    action = request.POST.get("action", "follow")
    if action == "unfollow":
        services.unfollow(actor=request.user, target=target)
    elif action in ("mute", "unmute"):
        services.mute(actor=request.user, target=target, muted=action == "mute")
    elif action == "invite" and request.POST.get("username"):
        invitee = User.objects.filter(username=request.POST["username"], is_active=True).first()
        if invitee is None:
            messages.error(request, "No active user with that username.")
        else:
            services.follow(actor=request.user, target=target, follower=invitee)
            messages.success(request, f"{invitee.username} now follows this record.")
    else:
        services.follow(actor=request.user, target=target)
    if request.htmx:
        return render(request, "collab/_feed.html", feed_context(request, target))
    return _back(request, record_url(target))


# ---------------------------------------------------------------- my feed, topics


@collab_view
@require_GET
def my_feed(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("filter", "all")
    if mode not in queries.FEED_FILTERS:
        mode = "all"
    page = queries.my_feed(
        request.user, filter=mode, cursor=request.GET.get("cursor"), limit=PAGE, comments=True
    )
    context = {
        "nav": "collab",
        "cards": _cards(request, page.items),
        "next_cursor": page.next_cursor,
        "mode": mode,
        "filters": [(f, f.capitalize()) for f in queries.FEED_FILTERS],
        "groups": queries.my_groups(request.user),
        "stream_url": reverse("collab:stream"),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "collab/_cards.html", context)
    return render(request, "collab/my_feed.html", context)


@collab_view
@require_GET
def topic(request: HttpRequest, slug: str) -> HttpResponse:
    row = Topic.objects.filter(slug=slug.lower()).first()
    if row is None:
        raise NotFound("No such topic.")
    page = queries.topic_posts(
        request.user, row, cursor=request.GET.get("cursor"), limit=PAGE, comments=True
    )
    return render(
        request,
        "collab/topic.html",
        {
            "nav": "collab",
            "topic": row,
            "cards": _cards(request, page.items),
            "next_cursor": page.next_cursor,
        },
    )


@collab_view
@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    """Mention autocomplete: users and (for staff) people and organisations by name."""
    q = request.GET.get("q", "").strip().lstrip("@")
    out: list[dict[str, str]] = []
    if len(q) >= 1:
        users = User.objects.filter(is_active=True, username__istartswith=q)
        if access.is_external(request.user):
            users = users.none()
        # Only logins the author may name: a customer's login (an e-mail address) only
        # when the author may see that customer's Person.
        for u in access.mentionable_users(request.user, list(users.order_by("username")[:20]))[:5]:
            out.append({"label": f"@{u.username}", "insert": f"@{u.username}"})
        if not access.is_external(request.user):
            from kith.people.access import staff_scope

            parties = staff_scope(request.user).filter(
                status=Party.Status.ACTIVE, sort_name__startswith=q.casefold()
            )
            for p in parties.order_by("sort_name")[:8]:
                out.append(
                    {
                        "label": p.display_name,
                        "insert": f"@[{p.display_name}]({p.kind}:{p.public_id})",
                    }
                )
    return JsonResponse({"items": out})


# ---------------------------------------------------------------- groups


@collab_view
def groups(request: HttpRequest) -> HttpResponse:
    error = None
    if request.method == "POST":
        try:
            group = services.create_group(
                actor=request.user,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                privacy=request.POST.get("privacy", "public"),
                kind=request.POST.get("kind", "internal"),
            )
        except KithError as exc:
            if exc.status in (403, 404):
                raise
            error = exc
        else:
            return redirect("collab:group", public_id=group.public_id)
    rows = list(access.scope_groups(request.user))
    mine = {m.group_id: m for m in Membership.objects.filter(user=request.user, group__in=rows)}
    return render(
        request,
        "collab/groups.html",
        {
            "nav": "collab",
            "rows": [(g, mine.get(g.pk)) for g in rows],
            "error": error,
            "can_create": not access.is_external(request.user) and request.user.can_write,
            "privacies": Group.Privacy.choices,
            "kinds": Group.Kind.choices,
        },
        status=error.status if error else 200,
    )


@collab_view
def group(request: HttpRequest, public_id) -> HttpResponse:
    row = access.get_group(request.user, public_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "join":
                services.join_group(actor=request.user, group=row)
            elif action == "leave":
                services.leave_group(actor=request.user, group=row)
            elif action in ("accept", "decline"):
                services.respond_invitation(
                    actor=request.user, group=row, accept=action == "accept"
                )
            elif action == "invite":
                invitee = User.objects.filter(
                    username=request.POST.get("username", ""), is_active=True
                ).first()
                if invitee is None:
                    raise NotFound("No active user with that username.")
                services.invite(actor=request.user, group=row, user=invitee)
                messages.success(request, f"Invited {invitee.username}.")
            elif action == "remove":
                member = User.objects.filter(username=request.POST.get("username", "")).first()
                if member is None:
                    raise NotFound("No such member.")
                services.leave_group(actor=request.user, group=row, user=member)
        except KithError as exc:
            messages.error(request, exc.message)
        if action == "leave" and not access.can_see_group(request.user, row):
            return redirect("collab:groups")
        return redirect("collab:group", public_id=row.public_id)
    mine = access.membership(request.user, row)
    context = feed_context(request, row)
    context.update(
        nav="collab",
        group=row,
        membership=mine,
        members=list(queries.members(row)),
        can_manage=access.can_manage_group(request.user, row),
    )
    return render(request, "collab/group.html", context)


# ---------------------------------------------------------------- notifications


@collab_view
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if "email_digest" in request.POST:
            try:
                services.set_email_digest(actor=request.user, mode=request.POST["email_digest"])
                messages.success(request, "E-mail preference saved.")
            except KithError as exc:
                messages.error(request, exc.message)
        else:
            try:
                services.mark_read(actor=request.user, ids=request.POST.getlist("id") or None)
            except KithError as exc:
                messages.error(request, exc.message)
        return redirect("collab:notifications")
    page = queries.notifications(request.user, cursor=request.GET.get("cursor"), limit=50)
    prefs = NotificationSettings.objects.filter(user=request.user).first()
    return render(
        request,
        "collab/notifications.html",
        {
            "nav": "collab",
            "items": page.items,
            "next_cursor": page.next_cursor,
            "digest": prefs.email_digest if prefs else "daily",
            "digests": NotificationSettings.Digest.choices,
            "stream_url": reverse("collab:stream"),
        },
    )


@collab_view
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The newest notifications as the list fragment: the page swaps it in live when
    the stream says a notification arrived."""
    page = queries.notifications(request.user, cursor=None, limit=50)
    return render(request, "collab/_notification_list.html", {"items": page.items})


@collab_view
@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    return render(request, "collab/_badge.html", {"unread": queries.unread_count(request.user)})


# ---------------------------------------------------------------- live stream


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _stream_target(request: HttpRequest):
    spec = request.GET.get("feed", "")
    if not spec:
        return None
    kind, _, public_id = spec.rpartition(":")
    return access.get_target(request.user, kind, public_id)


@collab_view
@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    """Server-Sent Events: new posts and comments on one feed, and my unread count.

    The stream ends after ``KITH_COLLAB_SSE_MAX_SECONDS`` (the browser reconnects on its
    own) and sends a comment line every ``KITH_COLLAB_SSE_HEARTBEAT_SECONDS`` so dead
    connections are noticed.
    """
    target = _stream_target(request)
    user = request.user
    channels = [live.user_channel(user.pk)]
    if target is not None:
        ct_id = access.ContentType.objects.get_for_model(target).pk
        channels.append(live.feed_channel(ct_id, target.pk))
    max_seconds = _setting("KITH_COLLAB_SSE_MAX_SECONDS", 300)
    heartbeat = _setting("KITH_COLLAB_SSE_HEARTBEAT_SECONDS", 15)
    subscription = live.get_broker().subscribe(channels)
    unread = queries.unread_count(user)

    if isinstance(request, ASGIRequest):
        # Under uvicorn the response must be an async iterator, or Django would read the
        # whole stream into a list before sending a byte.
        body = async_events(request, subscription, unread, max_seconds, heartbeat)
    else:
        body = sync_events(request, subscription, unread, max_seconds, heartbeat)
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def sync_events(request, subscription, unread: int, max_seconds: float, heartbeat: float):
    """The stream for WSGI servers: a thread per open stream, blocking on the broker."""
    try:
        yield b"retry: 1000\n\n"
        yield live.sse("hello", {"unread": unread})
        deadline = time.monotonic() + max_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            message = subscription.get(timeout=min(heartbeat, left))
            if message is None:
                yield b": heartbeat\n\n"
                continue
            frame = _frame(request, message)
            if frame:
                yield frame
        yield live.sse("bye", {})
    finally:
        subscription.close()
        close_old_connections()


POLL_SECONDS = 0.1


async def async_events(request, subscription, unread: int, max_seconds: float, heartbeat: float):
    """The stream for ASGI servers: polls the broker without holding a thread.

    Each open stream checks its subscription every ``POLL_SECONDS`` (a non-blocking
    read), so hundreds of streams cost no threads; database work for a message (the
    access check and the rendering) runs in Django's sync thread.
    """
    render_frame = sync_to_async(_frame)
    try:
        yield b"retry: 1000\n\n"
        yield live.sse("hello", {"unread": unread})
        deadline = time.monotonic() + max_seconds
        beat = time.monotonic() + heartbeat
        while time.monotonic() < deadline:
            message = subscription.get(timeout=0)
            if message is None:
                if time.monotonic() >= beat:
                    beat = time.monotonic() + heartbeat
                    yield b": heartbeat\n\n"
                await asyncio.sleep(POLL_SECONDS)
                continue
            frame = await render_frame(request, message)
            if frame:
                yield frame
        yield live.sse("bye", {})
    finally:
        subscription.close()
        # This request's thread is not reused (Django's ASGI handler makes one per
        # request), so its connection goes back now rather than to the garbage collector.
        await sync_to_async(_close_connection)()


def _close_connection() -> None:
    # A function, so ``connection`` is looked up in the thread that closes it.
    connection.close()


def _frame(request: HttpRequest, message: dict) -> bytes | None:
    """Turn a broker message into an SSE frame for this reader, or None if not theirs."""
    kind = message.get("type")
    if kind == "notification":
        return live.sse("notification", {"unread": message.get("unread", 0)})
    if kind not in ("post", "post_edited", "post_deleted", "comment"):
        return None
    post = Post.objects.filter(public_id=message.get("post")).first()
    if post is None:
        return None
    if kind == "post_deleted":
        return live.sse("post_deleted", {"post": str(post.public_id)})
    if not access.can_see_post(request.user, post):
        return None
    post = queries._with_details(Post.objects.filter(pk=post.pk))[0]
    with timezone.override(timezones.of_user(request.user)):
        html = render_to_string("collab/_post.html", post_context(request, post), request=request)
    return live.sse(
        "comment" if kind == "comment" else ("post_edited" if kind == "post_edited" else "post"),
        json.dumps({"post": str(post.public_id), "html": html}),
    )


def party_panel(request: HttpRequest, party: Party) -> str | None:
    """The record's feed on its person or organisation page (kith.people owns the page)."""
    user = request.user
    if not getattr(user, "is_authenticated", False) or access.is_external(user):
        return None
    if party.status != Party.Status.ACTIVE or not access.can_read_feed(user, party):
        return None
    return render_to_string(
        "collab/_feed_panel.html", feed_context(request, party), request=request
    )
