"""Web UI for the idea portal (thin: access + services + queries + templates).

Customers (and anonymous visitors of a public portal) see the pages inside the customer
portal's layout (``portal/base.html``); staff see the same pages inside the staff layout
(``web/base.html``) with the triage tools: the board by status, status changes with a
public note, merges, credits and links to deals and cases. Forms post and redirect;
there is no inline script (CSP).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kith.core import timezones
from kith.core.context import channel as audit_channel
from kith.core.errors import Forbidden, KithError, NotFound, ValidationFailed

from . import access, queries, ranking, services
from .models import TRANSITIONS, Status


def ideas_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors: reading only on a public portal, writing sends them to log in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated and (
            request.method == "POST" or not access.can_read(request.user)
        ):
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        tz = timezones.of_user(request.user) if request.user.is_authenticated else "UTC"
        with audit_channel("web"), timezone.override(tz):
            return view(request, *args, **kwargs)

    return wrapper


def _ctx(request: HttpRequest, **extra) -> dict:
    staff = access.is_staff(request.user)
    return {
        "base": "web/base.html" if staff else "portal/base.html",
        "staff": staff,
        "triage": access.is_staff_writer(request.user),
        "participant": access.is_logged_in(request.user)
        and not (staff and not request.user.can_write),
        "nav": "ideas",
        **extra,
    }


def _errors(exc: KithError) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors} or {"form": exc.message}


def _back(public_id) -> HttpResponse:
    return redirect("ideas:idea", public_id=public_id)


# ---------------------------------------------------------------- reading


@require_GET
@ideas_view
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    staff = access.is_staff(user)
    rank = request.GET.get("rank", "hot")[:40]
    status = request.GET.get("status", "")[:20]
    category = None
    if request.GET.get("category"):
        try:
            category = access.get_category(user, request.GET["category"])
        except NotFound:
            category = None
    try:
        page = queries.list_ideas(
            user,
            rank=rank,
            status=status,
            category=category,
            q=request.GET.get("q", "")[:100],
            cursor=request.GET.get("cursor") or None,
        )
    except ValidationFailed:
        rank, status = "hot", ""
        page = queries.list_ideas(user, rank=rank)
    tabs = [(s.name, s.label) for s in ranking.scorers(staff=staff)]
    tabs.insert(2 if len(tabs) >= 2 else len(tabs), ("new", "New"))
    return render(
        request,
        "ideas/home.html",
        _ctx(
            request,
            page=page,
            voted=queries.my_votes(user, [i.pk for i in page.items]),
            rank=rank,
            status=status,
            category=category,
            tabs=tabs,
            statuses=Status.choices,
            categories=list(access.scope_categories(user)),
        ),
    )


@require_GET
@ideas_view
def idea(request: HttpRequest, public_id) -> HttpResponse:
    found = access.get_idea(request.user, public_id)
    if found.merged_into_id and not access.is_staff(request.user):
        return redirect("ideas:idea", public_id=found.merged_into.public_id)
    page = queries.idea_page(request.user, found)
    return render(
        request,
        "ideas/idea.html",
        _ctx(
            request,
            idea=found,
            page=page,
            can_edit_idea=can_edit(request.user, found.author_id),
            next_statuses=[(s, Status(s).label) for s in TRANSITIONS[found.status]],
            errors={},
        ),
    )


@require_GET
@ideas_view
def mine(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    return render(
        request, "ideas/mine.html", _ctx(request, nav="my_ideas", **queries.mine(request.user))
    )


@require_GET
@ideas_view
def board(request: HttpRequest) -> HttpResponse:
    """The staff triage board: ideas by status, most voted first."""
    if not access.is_staff(request.user):
        raise NotFound("Not found.")
    columns = queries.board(request.user)
    return render(
        request,
        "ideas/board.html",
        _ctx(request, columns=[(s, label, columns[s]) for s, label in Status.choices]),
    )


# ---------------------------------------------------------------- writing


@require_http_methods(["GET", "POST"])
@ideas_view
def new(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    access.require_participant(request.user)
    categories = list(access.scope_categories(request.user).filter(archived=False))
    errors: dict[str, str] = {}
    form = {"title": "", "body": "", "category": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            try:
                category = access.get_category(request.user, form["category"])
            except NotFound:
                raise ValidationFailed.single("category", "Choose a category.") from None
            created = services.create_idea(
                actor=request.user, title=form["title"], body=form["body"], category=category
            )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Thank you! Your idea is posted.")
            return _back(created.public_id)
    return render(
        request,
        "ideas/new.html",
        _ctx(request, categories=categories, form=form, errors=errors),
        status=422 if errors else 200,
    )


def can_edit(user, author_id: int | None) -> bool:
    """Whether to offer "Edit" (the service decides again)."""
    return access.is_logged_in(user) and (author_id == user.pk or access.is_staff_writer(user))


@require_http_methods(["GET", "POST"])
@ideas_view
def edit(request: HttpRequest, public_id, comment_id=None) -> HttpResponse:
    """Edit an idea (title, body) or one of its comments: the author or a moderator."""
    found = access.get_idea(request.user, public_id)
    comment = None
    if comment_id is not None:
        comment = found.comments.filter(public_id=comment_id).first()
        if comment is None:
            raise NotFound("No such comment.")
    author_id = comment.author_id if comment else found.author_id
    if not can_edit(request.user, author_id):
        raise Forbidden("Only its author or a moderator can edit this.")
    errors: dict[str, str] = {}
    form = {"title": found.title, "body": comment.body if comment else found.body}
    if request.method == "POST":
        form = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
        try:
            if comment is not None:
                services.edit_comment(actor=request.user, comment=comment, body=form["body"])
            else:
                services.edit_idea(
                    actor=request.user, idea=found, title=form["title"], body=form["body"]
                )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Saved.")
            return _back(found.public_id)
    return render(
        request,
        "ideas/edit.html",
        _ctx(request, idea=found, comment=comment, form=form, errors=errors),
        status=422 if errors else 200,
    )


def _act(request: HttpRequest, public_id, action: Callable, done: str = "") -> HttpResponse:
    """Run a write on the idea; its field errors become messages on the idea page."""
    found = access.get_idea(request.user, public_id)
    try:
        action(found)
    except ValidationFailed as exc:
        for message in _errors(exc).values():
            messages.error(request, message)
    except KithError as exc:
        if exc.status == 404:
            raise
        messages.error(request, exc.message)
    else:
        if done:
            messages.success(request, done)
    return _back(found.public_id)


@require_POST
@ideas_view
def vote(request: HttpRequest, public_id) -> HttpResponse:
    if request.POST.get("retract"):
        return _act(
            request,
            public_id,
            lambda i: services.retract_vote(actor=request.user, idea=i),
            "Your vote is withdrawn.",
        )
    return _act(
        request,
        public_id,
        lambda i: services.vote(actor=request.user, idea=i),
        "Thanks for your vote.",
    )


@require_POST
@ideas_view
def follow(request: HttpRequest, public_id) -> HttpResponse:
    following = request.POST.get("following") == "1"
    return _act(
        request,
        public_id,
        lambda i: services.follow_idea(actor=request.user, idea=i, following=following),
    )


@require_POST
@ideas_view
def comment(request: HttpRequest, public_id) -> HttpResponse:
    return _act(
        request,
        public_id,
        lambda i: services.comment_on_idea(
            actor=request.user, idea=i, body=request.POST.get("body", "")
        ),
    )


@require_POST
@ideas_view
def change_status(request: HttpRequest, public_id) -> HttpResponse:
    access.require_triage(request.user)
    return _act(
        request,
        public_id,
        lambda i: services.change_status(
            actor=request.user,
            idea=i,
            status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
        ),
        "Status changed; voters and followers are told.",
    )


def _other_idea(request: HttpRequest, ref: str):
    ref = (ref or "").strip().rstrip("/").rsplit("/", 1)[-1]  # an id or a pasted URL
    try:
        return access.get_idea(request.user, uuid.UUID(ref))
    except (ValueError, NotFound):
        raise ValidationFailed.single("into", "No such idea.") from None


@require_POST
@ideas_view
def merge(request: HttpRequest, public_id) -> HttpResponse:
    access.require_triage(request.user)
    source = access.get_idea(request.user, public_id)
    try:
        target = _other_idea(request, request.POST.get("into", ""))
        services.merge_ideas(actor=request.user, source=source, target=target)
    except KithError as exc:
        messages.error(request, " ".join(_errors(exc).values()))
        return _back(source.public_id)
    messages.success(request, "Merged; the voters were told.")
    return _back(target.public_id)


@require_POST
@ideas_view
def credit(request: HttpRequest, public_id) -> HttpResponse:
    access.require_triage(request.user)

    def run(found):
        name = request.POST.get("username", "").strip()[:150]
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise ValidationFailed.single("user", f"No user named {name!r}.")
        services.credit_contributor(
            actor=request.user,
            idea=found,
            user=user,
            contribution=request.POST.get("contribution", ""),
        )

    return _act(request, public_id, run, "Co-creator credited.")


@require_POST
@ideas_view
def link(request: HttpRequest, public_id) -> HttpResponse:
    access.require_triage(request.user)

    def run(found):
        from kith.sales.access import scope_deals
        from kith.service.access import scope_cases

        kind = request.POST.get("kind", "")
        ref = request.POST.get("record", "").strip().rstrip("/").rsplit("/", 1)[-1]
        try:
            pid = uuid.UUID(ref)
        except ValueError:
            raise ValidationFailed.single("record", "Paste a deal's or a case's id.") from None
        if kind == "deal":
            deal = scope_deals(request.user).filter(public_id=pid).first()
            if deal is None:
                raise ValidationFailed.single("deal", "No such deal.")
            services.link_record(actor=request.user, idea=found, deal=deal)
        else:
            case = scope_cases(request.user).filter(public_id=pid).first()
            if case is None:
                raise ValidationFailed.single("case", "No such case.")
            services.link_record(actor=request.user, idea=found, case=case)

    return _act(request, public_id, run, "Linked.")


# ---------------------------------------------------------------- the person page


def party_panel(request: HttpRequest, party) -> str | None:
    """A person's ideas, votes and credits on their page (staff only)."""
    if not access.is_staff(request.user) or getattr(party, "kind", "person") != "person":
        return None
    found = queries.of_party(party)
    if not (found["ideas"] or found["votes"] or found["credits"]):
        return None
    return render_to_string("ideas/_party_panel.html", found, request=request)


# ---------------------------------------------------------------- categories (admins)


def _budget(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed.single("vote_budget", "A whole number, or empty.") from None


@require_http_methods(["GET", "POST"])
@ideas_view
def categories(request: HttpRequest) -> HttpResponse:
    """Admins create categories and set each one's vote budget (votes per person)."""
    access.require_admin(request.user)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if request.POST.get("category"):
                found = access.get_category(request.user, request.POST["category"])
                services.update_category(
                    actor=request.user,
                    category=found,
                    vote_budget=_budget(request.POST.get("vote_budget", "")),
                    archived=request.POST.get("archived") == "1",
                )
            else:
                services.create_category(
                    actor=request.user,
                    name=request.POST.get("name", ""),
                    description=request.POST.get("description", ""),
                    vote_budget=_budget(request.POST.get("vote_budget", "")),
                )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Saved.")
            return redirect("ideas:categories")
    return render(
        request,
        "ideas/categories.html",
        _ctx(request, categories=list(access.scope_categories(request.user)), errors=errors),
        status=422 if errors else 200,
    )
