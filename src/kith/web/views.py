"""Web UI shell views: home, log in, log out.

Logging in goes through ``kith.accounts.services.login_with_password``, which counts
failures and locks an account out for a while, so the web form and the API share one
throttle.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kith.accounts.services import login_with_password
from kith.core import bulk_worker, events, worker
from kith.core.api import require_admin
from kith.core.errors import NotFound, Throttled, ValidationFailed
from kith.people.identity import service as identity_service
from kith.people.models import ImportJob
from kith.web import dashboard, global_search
from kith.web.decorators import staff_view


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land on their dashboard; customers (portal logins) on the portal's home."""
    if getattr(request.user, "is_portal", False):
        return redirect("portal:home")
    if not request.user.is_staff_user:
        raise NotFound("This workspace is for staff accounts.")
    return _dashboard(request)


@staff_view
def _dashboard(request: HttpRequest) -> HttpResponse:
    # A new workspace's admin also sees the first-run checklist (kith.web.settings_views).
    from kith.web.settings_views import onboarding_context

    return render(
        request,
        "web/home.html",
        {
            "board": dashboard.build(request.user),
            "nav": "home",
            "onboarding": onboarding_context(request.user),
        },
    )


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """The login form; 422 with the error on a wrong password, 429 once locked out."""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request))
    context = {"next": _safe_next(request), "username": "", "error": "", "locked": False}
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        context["username"] = username
        try:
            user = login_with_password(
                request,
                username=username,
                password=request.POST.get("password", ""),
                ip=request.META.get("REMOTE_ADDR", ""),
            )
        except Throttled as exc:
            context.update(error=exc.message, locked=True)
            status = exc.status
        except ValidationFailed as exc:
            context["error"] = exc.message
            status = exc.status
        else:
            auth_login(request, user)
            if user.is_portal and not request.POST.get("next", "").startswith("/portal/"):
                # A customer who used the staff form still lands in the portal.
                return redirect("portal:home")
            return redirect(_safe_next(request))
    return render(request, "web/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out (POST only, so a link or image elsewhere cannot log a user out)."""
    auth_logout(request)
    messages.info(request, "You are logged out.")
    return redirect("login")


@staff_view
def system_status(request: HttpRequest) -> HttpResponse:
    """Admins: what waits for the worker (outbox per lane, tasks per queue), the bulk
    worker process, and imports that run or stalled."""
    require_admin(request.user)
    jobs = (
        ImportJob.objects.defer("content", "errors")
        .select_related("created_by")
        .filter(
            status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.STALE]
        )
        .order_by("-created_at")[:50]
    )
    return render(
        request,
        "web/system.html",
        {
            "nav": "system",
            "backlog": events.backlog(),
            "jobs": jobs,
            "identity_queue": identity_service.queued_count(),
            "identity_every": settings.KITH_IDENTITY_SCORE_SECONDS,
            "tasks_waiting": worker.waiting_tasks(),
            "bulk_worker": bulk_worker.status(),
        },
    )


@staff_view
@require_http_methods(["GET"])
def search(request: HttpRequest) -> HttpResponse:
    """Search everything the user may see: the palette's results (htmx) or a full page."""
    q = request.GET.get("q", "")
    groups = global_search.search_everything(request.user, q)
    context = {"q": q.strip()[: global_search.MAX_QUERY], "groups": groups}
    if getattr(request, "htmx", False):
        return render(request, "web/_search_results.html", context)
    return render(request, "web/search.html", context)
