"""Web UI for kith.insights: the influence page and the person-page panel (thin)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from kith.core.errors import KithError
from kith.core.inputs import whole_number
from kith.insights import access, queries, services
from kith.web.decorators import staff_view


def _community(raw: str) -> int | None:
    number = whole_number(raw)
    return number if number is not None and 0 < number <= 1_000_000 else None


@require_GET
@staff_view
def home(request: HttpRequest) -> HttpResponse:
    """Influencers (overall or in one community), bridges, and the latest run's progress."""
    run = queries.latest_run()
    community = _community(request.GET.get("community", ""))
    ctx = {
        "nav": "insights",
        "run": run,
        "job": queries.current_job(),
        "community": community,
        "can_recompute": access.can_recompute(request.user),
        "influencers": queries.influencers(request.user, run, community=community) if run else [],
        "bridges": queries.bridges(request.user, run) if run else [],
        "communities": queries.communities(run) if run else [],
    }
    return render(request, "insights/home.html", ctx)


@require_GET
@staff_view
def progress(request: HttpRequest) -> HttpResponse:
    """The progress fragment the page polls while a run is queued or running."""
    return render(request, "insights/_progress.html", {"job": queries.current_job()})


@require_POST
@staff_view
def recompute(request: HttpRequest) -> HttpResponse:
    """Queue a recomputation (managers and admins)."""
    try:
        access.require_recompute(request.user)
        services.request_influence_run(actor=request.user)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, "The influence graph is being recomputed.")
    return redirect("insights:home")


def party_panel(request: HttpRequest, party) -> str | None:
    """A person's influence score and community on their page (staff only)."""
    if not access.is_staff(request.user) or getattr(party, "kind", "person") != "person":
        return None
    score = queries.score_of(request.user, party)
    if score is None:
        return None
    run = queries.latest_run()
    members = queries.influencers(request.user, run, community=score.community, limit=5)
    return render_to_string(
        "insights/_party_panel.html",
        {"score": score, "run": run, "members": members},
        request=request,
    )
