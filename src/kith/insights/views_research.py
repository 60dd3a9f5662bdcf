"""Staff pages for participation inequality and research panels (thin).

Charts are drawn on the server (``kith.web.charts``): the Lorenz curve against the line
of equality, and the monthly trend of the 90-9-1 shares.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kith.community.models import Space
from kith.core.errors import KithError, NotFound, ValidationFailed
from kith.core.inputs import whole_number
from kith.insights import access, panels, participation
from kith.insights.models_research import Panel, Survey
from kith.web.charts import Chart, Series, csv_response
from kith.web.decorators import staff_view

QUESTION_SLOTS = 5
STRATA_LABELS = {
    "participation": "Participation level",
    "region": "Region",
    "value_segment": "CLV × CRV segment",
}


def _int(raw: str, default: int, low: int, high: int) -> int:
    number = whole_number(raw)
    return number if number is not None and low <= number <= high else default


def lorenz_chart(report: participation.Report) -> Chart:
    points = report.lorenz
    return Chart(
        kind="line",
        title="Lorenz curve of contributions",
        categories=[f"{p:.0%}" for p, _ in points],
        series=[
            Series("Contributions (cumulative share)", [v for _, v in points]),
            Series("Line of equality", [p for p, _ in points], colour="#999999"),
        ],
        category_label="Members, least active first",
        value_label="Share of contributions",
        value_format="{:.0%}",
        description=(
            "Cumulative share of contributions made by the least active members; the "
            "further below the line of equality, the more unequal."
        ),
    )


def trend_chart(months: list[participation.MonthPoint]) -> Chart:
    return Chart(
        kind="stacked",
        title="Members by participation, month by month",
        categories=[m.month.strftime("%Y-%m") for m in months],
        series=[
            Series("Lurkers", [m.shares["lurker"] for m in months]),
            Series("Contributors", [m.shares["contributor"] for m in months]),
            Series("Heavy contributors", [m.shares["heavy"] for m in months]),
        ],
        category_label="Month",
        value_label="Share of active members",
        value_format="{:.0%}",
    )


def _participation_filters(request: HttpRequest) -> tuple[int, Space | None]:
    """(days, space or None for all) from the query string; an unknown space is a 404."""
    days = _int(request.GET.get("days", ""), participation.DEFAULT_DAYS, 1, 3660)
    space = None
    raw = (request.GET.get("space") or "").strip()
    if raw:
        try:
            space = Space.objects.filter(public_id=uuid.UUID(raw[:36])).first()
        except ValueError:
            space = None
        if space is None:
            raise NotFound("No such space.")
    return days, space


@require_GET
@staff_view
def participation_page(request: HttpRequest) -> HttpResponse:
    """90-9-1 shares, Gini and Lorenz curve (overall or one space), trend and per space."""
    access.require_staff(request.user)
    days, space = _participation_filters(request)
    report = participation.participation(space=space, days=days)
    months = participation.trend(space=space)
    ctx = {
        "nav": "insights",
        "report": report,
        "days": days,
        "space": space,
        "spaces": participation.by_space(days=days) if space is None else [],
        "lorenz": lorenz_chart(report),
        "trend": trend_chart(months),
        "months": months,
        "heavy_threshold": participation.heavy_threshold(days, report.heavy_per_month),
        "csv_query": urlencode(
            {"days": days, **({"space": str(space.public_id)} if space else {})}
        ),
        "csv_parts": CSV_PARTS if space is None else [p for p in CSV_PARTS if p[0] != "spaces"],
    }
    return render(request, "insights/research_participation.html", ctx)


CSV_PARTS = [
    ("summary", "Shares and Gini"),
    ("lorenz", "Lorenz curve"),
    ("trend", "Trend by month"),
    ("spaces", "By space"),
]


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def participation_rows(part: str, *, space: Space | None, days: int) -> list[list[object]]:
    """The numbers behind one part of the participation page, as CSV rows (header first)."""
    if part == "summary":
        r = participation.participation(space=space, days=days)
        rows: list[list[object]] = [
            ["level", "members", "share_of_members", "share_of_contributions"]
        ]
        for level in participation.LEVELS:
            rows.append(
                [
                    level,
                    r.counts[level],
                    _share(r.shares[level]),
                    _share(r.contribution_shares[level]),
                ]
            )
        rows.append(["all", r.members, _share(1.0 if r.members else 0.0), _share(1.0)])
        rows.append(["gini", "", _share(r.gini), ""])
        rows.append(["contributions", r.contributions, "", ""])
        threshold = participation.heavy_threshold(days, r.heavy_per_month)
        rows.append(["heavy_threshold", threshold, "", ""])
        return rows
    if part == "lorenz":
        r = participation.participation(space=space, days=days)
        return [["share_of_members", "share_of_contributions"]] + [
            [_share(p), _share(v)] for p, v in r.lorenz
        ]
    if part == "trend":
        rows = [["month", "active_members", "lurker", "contributor", "heavy", "gini"]]
        for m in participation.trend(space=space):
            rows.append(
                [
                    m.month.strftime("%Y-%m"),
                    m.members,
                    *(_share(m.shares[level]) for level in participation.LEVELS),
                    _share(m.gini),
                ]
            )
        return rows
    if part == "spaces" and space is None:
        rows = [["space", "space_id", "active_members", "lurker", "contributor", "heavy", "gini"]]
        for r in participation.by_space(days=days):
            rows.append(
                [
                    r.space.name if r.space else "",
                    str(r.space.public_id) if r.space else "",
                    r.members,
                    *(_share(r.shares[level]) for level in participation.LEVELS),
                    _share(r.gini),
                ]
            )
        return rows
    raise NotFound("No such download.")


@require_GET
@staff_view
def participation_csv(request: HttpRequest, part: str) -> HttpResponse:
    """One part of the participation page (the same numbers as its charts) as CSV."""
    access.require_staff(request.user)
    days, space = _participation_filters(request)
    rows = participation_rows(part, space=space, days=days)
    scope = space.slug if space else "all"
    return csv_response(rows, f"participation-{part}-{scope}-{days}d.csv")


# ---------------------------------------------------------------- panels


@require_GET
@staff_view
def panels_page(request: HttpRequest) -> HttpResponse:
    access.require_staff(request.user)
    return _panels(request)


def _panels(request: HttpRequest, *, errors=None, form=None, status: int = 200) -> HttpResponse:
    ctx = {
        "nav": "insights",
        "panels": Panel.objects.all()[:100],
        "strata": [(s, STRATA_LABELS.get(s, s)) for s in panels.STRATA],
        "can_write": access.can_research_write(request.user),
        "errors": {e.field: e.message for e in errors or []},
        "form": form or {"name": "", "size": "50", "strata": list(panels.STRATA)},
    }
    return render(request, "insights/research_panels.html", ctx, status=status)


@require_POST
@staff_view
def panel_build(request: HttpRequest) -> HttpResponse:
    access.require_research_write(request.user)
    form = {
        "name": request.POST.get("name", "")[:300],
        "size": request.POST.get("size", "")[:6],
        "strata": request.POST.getlist("strata")[:5],
    }
    size = whole_number(form["size"]) or 0
    try:
        panel = panels.build_panel(
            actor=request.user, name=form["name"], size=size, strata=form["strata"]
        )
    except ValidationFailed as exc:
        return _panels(request, errors=exc.errors, form=form, status=422)
    messages.success(request, f"Panel drawn: {panel.members.count()} members.")
    return redirect("insights:panel", public_id=panel.public_id)


def _panel_or_404(public_id: uuid.UUID) -> Panel:
    panel = Panel.objects.filter(public_id=public_id).first()
    if panel is None:
        raise NotFound("No such panel.")
    return panel


@require_GET
@staff_view
def panel_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    access.require_staff(request.user)
    return _panel(request, _panel_or_404(public_id))


def _panel(request, panel, *, errors=None, form=None, status: int = 200) -> HttpResponse:
    form = form or {}
    slots = [
        {
            "n": i,
            "kind": form.get(f"q{i}_kind", "single" if i == 1 else ""),
            "text": form.get(f"q{i}_text", ""),
            "choices": form.get(f"q{i}_choices", ""),
        }
        for i in range(1, QUESTION_SLOTS + 1)
    ]
    ctx = {
        "nav": "insights",
        "panel": panel,
        "members": panel.members.count(),
        "shortfalls": panels.shortfalls(panel),
        "surveys": panel.surveys.all(),
        "can_write": access.can_research_write(request.user),
        "errors": [f"{e.field}: {e.message}" for e in errors or []],
        "form": form,
        "slots": slots,
        "kinds": [("", "— no question —"), *panels.SurveyQuestion.Kind.choices],
    }
    return render(request, "insights/research_panel.html", ctx, status=status)


@require_POST
@staff_view
def survey_create(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Write a survey from up to five question slots (empty slots are skipped)."""
    access.require_research_write(request.user)
    panel = _panel_or_404(public_id)
    form = {k: v[:5000] for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    questions = []
    for i in range(1, QUESTION_SLOTS + 1):
        kind = form.get(f"q{i}_kind", "")
        text = form.get(f"q{i}_text", "")
        if not kind and not text.strip():
            continue
        questions.append(
            panels.QuestionInput(
                kind=kind,
                text=text,
                choices=tuple(form.get(f"q{i}_choices", "").splitlines()),
                scale_min=1,
                scale_max=_int(form.get(f"q{i}_scale_max", ""), 5, 2, 10),
            )
        )
    try:
        survey = panels.create_survey(
            actor=request.user,
            panel=panel,
            title=form.get("title", ""),
            intro=form.get("intro", ""),
            questions=questions,
        )
    except ValidationFailed as exc:
        return _panel(request, panel, errors=exc.errors, form=form, status=422)
    messages.success(request, "Survey saved. Invite the panel when you are ready.")
    return redirect("insights:survey", public_id=survey.public_id)


def _survey_or_404(public_id: uuid.UUID) -> Survey:
    survey = Survey.objects.select_related("panel").filter(public_id=public_id).first()
    if survey is None:
        raise NotFound("No such survey.")
    return survey


@require_GET
@staff_view
def survey_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The survey's questions and its results, unweighted beside weighted."""
    access.require_staff(request.user)
    survey = _survey_or_404(public_id)
    ctx = {
        "nav": "insights",
        "survey": survey,
        "results": panels.results(survey),
        "can_write": access.can_research_write(request.user),
    }
    return render(request, "insights/research_survey.html", ctx)


@require_POST
@staff_view
def survey_invite(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    access.require_research_write(request.user)
    survey = _survey_or_404(public_id)
    try:
        counts = panels.invite(actor=request.user, survey=survey)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Invited {counts['invited']}; already invited {counts['already_invited']}; "
            f"not invited: {counts['no_consent']} without consent, "
            f"{counts['no_login']} without a portal login.",
        )
    return redirect("insights:survey", public_id=survey.public_id)


@require_POST
@staff_view
def survey_close(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    access.require_research_write(request.user)
    survey = _survey_or_404(public_id)
    try:
        panels.close_survey(actor=request.user, survey=survey)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, "Survey closed.")
    return redirect("insights:survey", public_id=survey.public_id)
