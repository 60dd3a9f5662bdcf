"""Web UI for customer value: the value page, a segment's people, progress, the panel (thin)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from kith.core import inputs
from kith.core.errors import KithError, ValidationFailed
from kith.core.inputs import whole_number
from kith.insights import access, queries_value, referrals, value
from kith.insights.models_value import ReferralCode
from kith.people import access as people_access
from kith.web.charts import Chart, Series
from kith.web.decorators import staff_view

PAGE = 50


def holdout_chart(run) -> Chart | None:
    """Predicted beside actual purchases in the holdout, per calibration frequency."""
    buckets = (run.validation or {}).get("buckets") if run else None
    if not buckets:
        return None
    return Chart(
        kind="bar",
        title="Holdout check: purchases per customer, predicted and actual",
        categories=[b["frequency"] for b in buckets],
        series=[
            Series("Predicted", [b["predicted"] for b in buckets]),
            Series("Actual", [b["actual"] for b in buckets]),
        ],
        value_label="Mean purchases in the holdout",
        category_label="Repeat purchases in the calibration period",
        description=(
            f"Model fitted on purchases before the last {run.validation.get('holdout_days', 0):g}"
            " days, mean purchases predicted for those days beside the mean made, by number "
            "of repeat purchases before them."
        ),
    )


def segment_chart(figures) -> Chart | None:
    if not any(f.people for f in figures):
        return None
    return Chart(
        kind="bar",
        title="Customer and referral value by segment",
        categories=[f.label for f in figures],
        series=[
            Series("CLV (total)", [round(f.clv_total, 2) for f in figures]),
            Series("CRV (total)", [round(f.crv_total, 2) for f in figures]),
        ],
        value_label="Value",
    )


def _with_reputation(rows) -> None:
    """Community reputation beside customer value: set ``reputation`` on each row."""
    reps = queries_value.reputations(v.party_id for v in rows)
    for v in rows:
        v.reputation = reps.get(v.party_id)


@require_GET
@staff_view
def value_home(request: HttpRequest) -> HttpResponse:
    """Segments (2 × 2), the holdout check, the fitted parameters, and progress."""
    run = queries_value.latest_run()
    figures = queries_value.segments(request.user, run)
    holdout = holdout_chart(run)
    segs = segment_chart(figures)
    top, _ = queries_value.people(request.user, run, limit=10) if run else ([], 0)
    _with_reputation(top)
    ctx = {
        "nav": "insights",
        "run": run,
        "job": queries_value.current_job(),
        "figures": {f.segment: f for f in figures},
        "figure_list": figures,
        "holdout_chart": holdout.render() if holdout else "",
        "segment_chart": segs.render() if segs else "",
        "top": top,
        "can_recompute": access.can_recompute(request.user),
    }
    return render(request, "insights/value_home.html", ctx)


@require_GET
@staff_view
def value_segment(request: HttpRequest, segment: str) -> HttpResponse:
    """The people of one segment (or ``all``), with CLV, CRV and community reputation."""
    if segment != "all" and segment not in queries_value.SEGMENTS:
        raise Http404("No such segment.")
    run = queries_value.latest_run()
    order = request.GET.get("order", "clv")
    order = order if order in queries_value.ORDERS else "clv"
    page = min(max(1, whole_number(request.GET.get("page") or "1") or 1), 100_000)
    rows, total = (
        queries_value.people(
            request.user,
            run,
            segment=None if segment == "all" else segment,
            order=order,
            limit=PAGE,
            offset=(page - 1) * PAGE,
        )
        if run
        else ([], 0)
    )
    _with_reputation(rows)
    labels = {s.value: str(s.label) for s in value.PersonValue.Segment}
    ctx = {
        "nav": "insights",
        "run": run,
        "segment": segment,
        "segment_label": labels.get(segment, "All scored people"),
        "rows": rows,
        "total": total,
        "order": order,
        "orders": [("clv", "CLV"), ("crv", "CRV"), ("p_alive", "P(alive)"), ("name", "Name")],
        "page": page,
        "has_next": page * PAGE < total,
        "segments": labels,
    }
    return render(request, "insights/value_segment.html", ctx)


@require_GET
@staff_view
def value_progress(request: HttpRequest) -> HttpResponse:
    """The progress fragment the page polls while a run is queued or running."""
    return render(request, "insights/value_progress.html", {"job": queries_value.current_job()})


@require_POST
@staff_view
def value_recompute(request: HttpRequest) -> HttpResponse:
    """Queue a recomputation (managers and admins) with the default parameters."""
    try:
        access.require_recompute(request.user)
        value.request_value_run(actor=request.user)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, "Customer value is being recomputed.")
    return redirect("insights:value")


def party_panel(request: HttpRequest, party) -> str | None:
    """A person's CLV, CRV, segment, referrals and community reputation (staff only)."""
    if not access.is_staff(request.user) or getattr(party, "kind", "person") != "person":
        return None
    figures = queries_value.value_of(party)
    referred_by, referred = queries_value.referrals_of(request.user, party)
    can_change = people_access.can_change(request.user, party)
    if figures is None and referred_by is None and not referred and not can_change:
        return None
    code = ReferralCode.objects.filter(party=party).first()
    return render_to_string(
        "insights/value_party_panel.html",
        {
            "party": party,
            "can_change": can_change,
            "referral_code": code,
            **_code_state(code),
            "v": figures,
            "run": queries_value.latest_run(),
            "referred_by": referred_by,
            "referred": referred[:10],
            "referred_more": max(len(referred) - 10, 0),
            "reputation": queries_value.reputation_of(party),
        },
        request=request,
    )


def _code_state(code: ReferralCode | None) -> dict:
    """How the panel shows a code: live, expired or revoked, and its last valid day."""
    if code is None:
        return {}
    state = "revoked" if code.revoked_at is not None else "live" if code.is_live else "expired"
    last_day = (
        timezone.localtime(code.expires_at - dt.timedelta(microseconds=1)).date()
        if code.expires_at is not None
        else None
    )
    return {"referral_code_state": state, "referral_code_last_day": last_day}


def _back_to(party) -> HttpResponse:
    return redirect(reverse("people:person", args=[party.public_id]) + "#value-panel")


@require_POST
@staff_view
def referred_by(request: HttpRequest, public_id) -> HttpResponse:
    """Record "referred by" from the person page: a referral code or the referrer's e-mail."""
    party = people_access.get_party_for_change(request.user, public_id, kind="person")
    code = (request.POST.get("code") or "").strip()[:40]
    email = (request.POST.get("referrer_email") or "").strip()[:254]
    try:
        if code and email:
            raise ValidationFailed.single("code", "Give a referral code or an e-mail, not both.")
        if code:
            ref = referrals.refer_by_code(
                actor=request.user, code=code, referred=party, staff_scope=True
            )
        elif email:
            referrer = queries_value.person_by_email(request.user, email)
            if referrer is None:
                raise ValidationFailed.single(
                    "referrer_email", "No person you can see has this e-mail address."
                )
            ref = value.record_referral(actor=request.user, referrer=referrer, referred=party)
        else:
            raise ValidationFailed.single("code", "Give a referral code or the referrer's e-mail.")
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        detail = "; ".join(e.message for e in exc.errors) if exc.errors else exc.message
        messages.error(request, f"Referral not recorded: {detail}")
    else:
        messages.success(request, f"Recorded: referred by {ref.referrer.display_name}.")
    return _back_to(party)


@require_POST
@staff_view
def make_referral_code(request: HttpRequest, public_id) -> HttpResponse:
    """Give the person a referral code (to pass on by phone or letter)."""
    party = people_access.get_party_for_change(request.user, public_id, kind="person")
    try:
        code = referrals.code_for(actor=request.user, person=party)
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Referral code: {code.code}")
    return _back_to(party)


CODE_FIELD_LABELS = {"expires_at": "Valid until", "person": "Person"}


def _code_error(exc: KithError) -> str:
    """A refused change's message with the form's labels, not the field names."""
    if not exc.errors:
        return exc.message
    return "; ".join(
        f"{CODE_FIELD_LABELS.get(e.field, e.field.replace('_', ' ').capitalize())}: {e.message}"
        for e in exc.errors
    )


@require_POST
@staff_view
def revoke_referral_code(request: HttpRequest, public_id) -> HttpResponse:
    """Revoke the person's referral code (its link stops working at once)."""
    party = people_access.get_party_for_change(request.user, public_id, kind="person")
    try:
        code = referrals.revoke_code(actor=request.user, person=party)
    except KithError as exc:  # access was checked above: a message, not an error page
        messages.error(request, f"Referral code not revoked: {_code_error(exc)}")
    else:
        messages.success(request, f"Referral code {code.code} revoked; its link no longer works.")
    return _back_to(party)


def _end_of_day(raw: str) -> dt.datetime | None:
    """A date from the form as the moment its day ends (local time); blank: no expiry."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.single("expires_at", "Enter a date (YYYY-MM-DD).") from None
    if not inputs.MIN_YEAR <= day.year <= inputs.MAX_YEAR:
        raise ValidationFailed.single("expires_at", inputs.RANGE_MESSAGE)
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


@require_POST
@staff_view
def referral_code_expiry(request: HttpRequest, public_id) -> HttpResponse:
    """Set (a date, the code working through that day) or clear a code's expiry."""
    party = people_access.get_party_for_change(request.user, public_id, kind="person")
    try:
        expires_at = _end_of_day(request.POST.get("expires_on", "")[:20])
        code = referrals.set_code_expiry(actor=request.user, person=party, expires_at=expires_at)
    except KithError as exc:  # access was checked above: a message, not an error page
        messages.error(request, f"Expiry not saved: {_code_error(exc)}")
    else:
        if code.expires_at is None:
            messages.success(request, f"Referral code {code.code} no longer expires.")
        else:
            last_day = _code_state(code)["referral_code_last_day"]
            messages.success(
                request, f"Referral code {code.code} works until the end of {last_day:%Y-%m-%d}."
            )
    return _back_to(party)


# Mounted by ``kith.insights.urls`` (under /insights/).
urlpatterns = [
    path("value/", value_home, name="value"),
    path("value/progress/", value_progress, name="value_progress"),
    path("value/recompute/", value_recompute, name="value_recompute"),
    path("value/segments/<slug:segment>/", value_segment, name="value_segment"),
    path("value/people/<uuid:public_id>/referred-by/", referred_by, name="referred_by"),
    path(
        "value/people/<uuid:public_id>/referral-code/",
        make_referral_code,
        name="make_referral_code",
    ),
    path(
        "value/people/<uuid:public_id>/referral-code/revoke/",
        revoke_referral_code,
        name="revoke_referral_code",
    ),
    path(
        "value/people/<uuid:public_id>/referral-code/expiry/",
        referral_code_expiry,
        name="referral_code_expiry",
    ),
]
