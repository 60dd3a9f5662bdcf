"""Web UI for the community (thin: access + services + queries + templates).

Customers and anonymous visitors see the pages inside the customer portal's layout
(``portal/base.html``); staff see the same pages inside the staff layout, plus the
moderation queue, the rules editor and "publish a solved case as a Q&A". Reading a
public space needs no login; every write does. What each reader sees is decided by
``kith.community.access`` alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.core import timezones
from kith.core.context import channel as audit_channel
from kith.core.errors import KithError, NotFound, ValidationFailed
from kith.core.inputs import whole_number

from . import access, queries, redaction, services
from .models import DEFAULT_POINTS, PRIVILEGES, Flag, Post, Space, Topic


def community_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anyone may read (access decides what); writing sends anonymous visitors to log in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST" and not request.user.is_authenticated:
            login_url = reverse("portal:login")
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(login_url)
            return redirect_to_login(request.get_full_path(), login_url)
        tz = timezones.of_user(request.user) if request.user.is_authenticated else "UTC"
        with audit_channel("web"), timezone.override(tz):
            return view(request, *args, **kwargs)

    return wrapper


def _ctx(request: HttpRequest, **extra) -> dict:
    staff = access.is_staff(request.user)
    return {
        "base": "web/base.html" if staff else "portal/base.html",
        "staff": staff,
        "nav": "community",
        "portal_nav": "community",
        **extra,
    }


def _number(raw: str, *, signed: bool = False) -> int | str:
    """A form's whole number, else the text as typed for the service to refuse by name."""
    number = whole_number(raw, signed=signed)
    return raw if number is None else number


def _errors(exc: KithError) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors} or {"form": exc.message}


# ---------------------------------------------------------------- reading


@require_GET
@community_view
def home(request: HttpRequest) -> HttpResponse:
    spaces = list(queries.spaces(request.user))
    return render(request, "community/home.html", _ctx(request, spaces=spaces))


@require_GET
@community_view
def space(request: HttpRequest, slug: str) -> HttpResponse:
    found = access.get_space(request.user, slug)
    page = queries.space_topics(
        request.user,
        found,
        cursor=request.GET.get("cursor"),
        tag=request.GET.get("tag", "")[:50],
        unanswered=request.GET.get("unanswered") == "1",
    )
    services.record_visit(user=request.user)
    user = request.user
    my_points = None
    if access.is_logged_in(user):
        my_points = queries.space_points(found, [user.pk]).get(user.pk, 0)
    return render(
        request,
        "community/space.html",
        _ctx(
            request,
            space=found,
            page=page,
            tag=request.GET.get("tag", ""),
            leaders=queries.space_leaders(found, limit=10),
            my_points=my_points,
        ),
    )


@require_GET
@community_view
def topic(request: HttpRequest, public_id) -> HttpResponse:
    found = access.get_topic(request.user, public_id)
    if found.merged_into_id and not access.can_moderate_anywhere(request.user):
        return redirect("community:topic", public_id=found.merged_into.public_id)
    page = queries.topic_page(request.user, found, cursor=request.GET.get("cursor"))
    services.record_topic_view(user=request.user, topic=found, answers=page.answers)
    user = request.user
    ctx = _ctx(
        request,
        topic=found,
        page=page,
        can_accept=access.is_logged_in(user)
        and found.kind == Topic.Kind.QUESTION
        and (found.author_id == user.pk or access.is_moderator(user, found.space)),
        moderator=access.is_logged_in(user) and access.is_moderator(user, found.space),
        can_write=access.is_logged_in(user) and not (access.is_staff(user) and not user.can_write),
        flag_reasons=Flag.Reason.choices,
        spaces=list(queries.spaces(user)) if access.can_moderate_anywhere(user) else [],
        tags=sorted(found.tags.values_list("slug", flat=True)),
        answer_errors={},
    )
    return render(request, "community/topic.html", ctx)


@require_GET
@community_view
def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:300]
    results = queries.search_topics(request.user, q) if q.strip() else []
    return render(request, "community/search.html", _ctx(request, q=q, results=results))


@require_GET
@community_view
def similar(request: HttpRequest) -> HttpResponse:
    """The htmx fragment of similar questions shown while a question is typed."""
    q = (request.GET.get("title", "") + " " + request.GET.get("q", ""))[:300]
    results = queries.similar_topics(request.user, q) if len(q.strip()) >= 3 else []
    return render(request, "community/_similar.html", {"results": results})


# ---------------------------------------------------------------- writing


@community_view
def ask(request: HttpRequest, slug: str) -> HttpResponse:
    found = access.get_space(request.user, slug)
    form = {"title": "", "body": "", "tags": "", "kind": "question"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            created = services.create_topic(
                actor=request.user,
                space=found,
                title=form["title"],
                body=form["body"],
                kind=form["kind"] or "question",
                tags=[t for t in form["tags"].replace(",", " ").split() if t],
            )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            return redirect("community:topic", public_id=created.public_id)
    elif not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    status = 422 if errors else 200
    return render(
        request,
        "community/ask.html",
        _ctx(request, space=found, form=form, errors=errors),
        status=status,
    )


@require_POST
@community_view
def answer(request: HttpRequest, public_id) -> HttpResponse:
    found = access.get_topic(request.user, public_id)
    try:
        post = services.reply(actor=request.user, topic=found, body=request.POST.get("body", ""))
    except ValidationFailed as exc:
        messages.error(request, "; ".join(_errors(exc).values()))
        return redirect("community:topic", public_id=found.public_id)
    return redirect(reverse("community:topic", args=[found.public_id]) + f"#post-{post.public_id}")


def _post_action(request: HttpRequest, public_id, action: Callable[[Post], object]) -> HttpResponse:
    post = access.get_post(request.user, public_id)
    try:
        action(post)
    except ValidationFailed as exc:
        messages.error(request, "; ".join(_errors(exc).values()))
    target = reverse("community:topic", args=[post.topic.public_id]) + f"#post-{post.public_id}"
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_POST
@community_view
def vote(request: HttpRequest, public_id) -> HttpResponse:
    value = request.POST.get("value", "")
    user = request.user

    def act(post: Post):
        if value == "0":
            return services.retract_vote(actor=user, post=post)
        if value not in ("1", "-1"):
            raise ValidationFailed.single("value", "Either 1 or -1.")
        return services.vote(actor=user, post=post, value=int(value))

    return _post_action(request, public_id, act)


@require_POST
@community_view
def accept(request: HttpRequest, public_id) -> HttpResponse:
    return _post_action(
        request, public_id, lambda post: services.accept_answer(actor=request.user, answer=post)
    )


@require_POST
@community_view
def comment(request: HttpRequest, public_id) -> HttpResponse:
    body = request.POST.get("body", "")
    return _post_action(
        request, public_id, lambda post: services.comment(actor=request.user, post=post, body=body)
    )


@require_POST
@community_view
def flag(request: HttpRequest, public_id) -> HttpResponse:
    reason = request.POST.get("reason", "")

    def act(post: Post):
        services.flag_post(actor=request.user, post=post, reason=reason)
        messages.success(request, "Thank you: moderators will look at it.")

    return _post_action(request, public_id, act)


@require_POST
@community_view
def edit(request: HttpRequest, public_id) -> HttpResponse:
    title = request.POST.get("title")
    body = request.POST.get("body", "")
    return _post_action(
        request,
        public_id,
        lambda post: services.edit_post(
            actor=request.user,
            post=post,
            body=body,
            title=title if post.kind == Post.Kind.QUESTION else None,
        ),
    )


@require_POST
@community_view
def moderate(request: HttpRequest, public_id) -> HttpResponse:
    """Lock, unlock, close, reopen, move or merge a topic (moderators)."""
    found = access.get_topic(request.user, public_id)
    action = request.POST.get("action", "")
    user = request.user
    try:
        if action in ("lock", "unlock"):
            services.set_locked(actor=user, topic=found, locked=action == "lock")
        elif action in ("close", "reopen"):
            services.set_closed(actor=user, topic=found, closed=action == "close")
        elif action == "move":
            services.move_topic(
                actor=user, topic=found, space=access.get_space(user, request.POST.get("space", ""))
            )
        elif action == "merge":
            try:
                target = access.get_topic(user, request.POST.get("into", "").strip())
            except NotFound:
                raise ValidationFailed.single("into", "No such topic.") from None
            services.merge_topics(actor=user, source=found, target=target)
            return redirect("community:topic", public_id=target.public_id)
        else:
            raise ValidationFailed.single("action", "Unknown action.")
    except ValidationFailed as exc:
        messages.error(request, "; ".join(_errors(exc).values()))
    return redirect("community:topic", public_id=found.public_id)


# ---------------------------------------------------------------- staff: moderation, rules


def _require_staff(request: HttpRequest) -> None:
    if not access.is_staff(request.user):
        raise NotFound("Not found.")


@require_GET
@community_view
def moderation(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    return render(
        request,
        "community/moderation.html",
        _ctx(request, queue=queries.moderation_queue(request.user)),
    )


@require_POST
@community_view
def review(request: HttpRequest, public_id) -> HttpResponse:
    _require_staff(request)
    post = access.get_post(request.user, public_id)
    services.resolve_flags(actor=request.user, post=post, remove=request.POST.get("remove") == "1")
    return redirect("community:moderation")


@community_view
def rules(request: HttpRequest, slug: str) -> HttpResponse:
    """Admins edit a space's points per action and privilege thresholds."""
    _require_staff(request)
    found: Space = access.get_space(request.user, slug)
    errors: dict[str, str] = {}
    if request.method == "POST":
        points: dict[str, object] = {}
        privileges: dict[str, dict[str, object]] = {}
        for key in DEFAULT_POINTS:
            raw = request.POST.get(f"points.{key}", "").strip()
            points[key] = _number(raw, signed=True)
        for name in PRIVILEGES:
            privileges[name] = {}
            for part in ("reputation", "trust_level"):
                raw = request.POST.get(f"privileges.{name}.{part}", "").strip()
                privileges[name][part] = _number(raw)
        try:
            services.update_space_rules(
                actor=request.user, space=found, points=points, privileges=privileges
            )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Rules saved.")
            return redirect("community:rules", slug=found.slug)
    rows = [(k, found.point(k)) for k in DEFAULT_POINTS]
    privs = [(p, found.privilege(p)) for p in PRIVILEGES]
    return render(
        request,
        "community/rules.html",
        _ctx(request, space=found, rows=rows, privs=privs, errors=errors),
        status=422 if errors else 200,
    )


# ---------------------------------------------------------------- case → public Q&A


@community_view
def publish_case(request: HttpRequest, public_id) -> HttpResponse:
    """An agent turns a solved case into a public Q&A after redacting personal data."""
    from kith.service import access as service_access

    _require_staff(request)
    case = service_access.get_case(request.user, public_id)
    draft = redaction.case_draft(case)
    spaces = [s for s in queries.spaces(request.user)]
    errors: dict[str, str] = {}
    form = {
        "title": draft.title,
        "question": draft.question,
        "answer": draft.answer,
        "space": spaces[0].slug if spaces else "",
    }
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            try:
                target = access.get_space(request.user, form["space"])
            except NotFound:
                raise ValidationFailed.single("space", "Choose a space.") from None
            created = services.publish_case_as_topic(
                actor=request.user,
                case=case,
                space=target,
                title=form["title"],
                question=form["question"],
                answer=form["answer"],
                redact=request.POST.getlist("redact"),
            )
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Published.")
            return redirect("community:topic", public_id=created.public_id)
    found = redaction.find_personal_data(
        "\n".join([form["title"], form["question"], form["answer"]]), known=draft.known
    )
    previews = [
        (label, redaction.highlight(form[key], found))
        for key, label in (("title", "Title"), ("question", "Question"), ("answer", "Answer"))
    ]
    return render(
        request,
        "community/publish_case.html",
        _ctx(
            request,
            case=case,
            form=form,
            spaces=spaces,
            errors=errors,
            found=found,
            previews=previews,
        ),
        status=422 if errors else 200,
    )


# ---------------------------------------------------------------- the person page panel


def party_panel(request: HttpRequest, party) -> str | None:
    """A person's community standing on their page (staff only; kith.people owns the page)."""
    user = request.user
    if not access.is_staff(user):
        return None
    try:
        member = party.user
    except Exception:
        member = None
    if member is None:
        return None
    standing = queries.standing(member)
    if standing is None:
        return None
    return render_to_string(
        "community/_party_panel.html",
        {
            "standing": standing,
            "member": member,
            "moderator": access.is_staff_writer(user),
            "spaces": queries.member_spaces(user, member),
        },
        request=request,
    )


@require_POST
@community_view
def set_trust(request: HttpRequest, public_id) -> HttpResponse:
    """Staff pin (or release) a member's trust level from the person page."""
    from django.contrib.auth import get_user_model

    _require_staff(request)
    member = get_user_model().objects.filter(public_id=public_id).select_related("person").first()
    if member is None:
        raise NotFound("No such member.")
    raw = request.POST.get("level", "")
    if raw == "auto":
        profile = services.ensure_profile(member)
        services.set_trust_level(
            actor=request.user, user=member, level=profile.trust_level, locked=False
        )
        services.recompute_trust_level(user=member)
    else:
        level = _number(raw)
        if not isinstance(level, int):
            raise ValidationFailed.single("level", "Choose a level.")
        services.set_trust_level(actor=request.user, user=member, level=level)
    if member.person_id:
        return redirect(f"/people/{member.person.public_id}/")
    return redirect("community:home")


@require_GET
@community_view
def mine(request: HttpRequest) -> HttpResponse:
    """My questions and answers, and my standing (linked from the portal's navigation)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    user = request.user
    topics = access.scope_topics(user, Topic.objects.filter(author=user)).order_by(
        "-last_activity_at", "-id"
    )[:50]
    answered = (
        access.scope_topics(
            user, Topic.objects.filter(posts__author=user, posts__kind=Post.Kind.ANSWER)
        )
        .distinct()
        .order_by("-last_activity_at", "-id")[:50]
    )
    return render(
        request,
        "community/mine.html",
        _ctx(request, topics=topics, answered=answered, standing=queries.standing(user)),
    )


_RULE_FIELDS = (
    "name",
    "window_days",
    "min_days_visited",
    "min_posts_read",
    "min_replies",
    "min_likes_given",
    "min_likes_received",
    "max_flags_against",
    "posts_per_day",
)


@community_view
def trust_levels(request: HttpRequest) -> HttpResponse:
    """Staff see the trust-level rules; admins change what earns a level and what it allows."""
    from .models import TrustLevelRule

    _require_staff(request)
    errors: dict[str, str] = {}
    if request.method == "POST":
        level = _number(request.POST.get("level", "").strip())
        if not isinstance(level, int):
            raise ValidationFailed.single("level", "Choose a level.")
        changes: dict[str, object] = {}
        for name in _RULE_FIELDS:
            raw = request.POST.get(name, "").strip()
            changes[name] = raw if name == "name" else _number(raw)
        changes["links_allowed"] = request.POST.get("links_allowed") == "on"
        try:
            services.update_trust_rule(actor=request.user, level=level, changes=changes)
        except ValidationFailed as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Trust level {level} saved.")
            return redirect("community:trust_levels")
    return render(
        request,
        "community/trust_levels.html",
        _ctx(request, rules=TrustLevelRule.objects.all(), fields=_RULE_FIELDS, errors=errors),
        status=422 if errors else 200,
    )
