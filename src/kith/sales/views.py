"""Web UI for sales: board, deal list, deal page, forms, forecast and conversion.

Thin like the people views: login required, portal users get 404, times in the user's
time zone, audit entries marked as coming from the web. Views parse with a form, call
``access`` and a service, and render; they never write with the ORM.

Every action works without JavaScript (plain forms that redirect back). With htmx the
board's move forms (and the drag-and-drop in ``sales.js``) post and swap the board in
place; the deal forms swap themselves with inline errors (422).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.accounts.models import Team, User
from kith.core.errors import Conflict, FieldError, KithError, NotFound, ValidationFailed
from kith.core.locales import user_locale
from kith.core.pagination import paginate
from kith.people import access as people_access
from kith.people.models import Party
from kith.sales import access, queries, services
from kith.sales.forms import (
    ContactForm,
    DealForm,
    LineForm,
    MoveForm,
    PipelineForm,
    PipelineNewForm,
    ProductForm,
    RateForm,
    StageForm,
    apply_errors,
)
from kith.sales.models import (
    Deal,
    ExchangeRate,
    ForecastCategory,
    Pipeline,
    Product,
    Stage,
    base_currency,
)
from kith.web.decorators import staff_view
from kith.web.trash import undo_message

PAGE_SIZE = 50


# ---------------------------------------------------------------- plumbing


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _pipelines() -> list[Pipeline]:
    return list(Pipeline.objects.filter(active=True).prefetch_related("stages"))


def _pipeline_from(request: HttpRequest, raw: str | None = None) -> Pipeline | None:
    raw = raw if raw is not None else request.GET.get("pipeline", "")
    if raw:
        try:
            found = Pipeline.objects.filter(public_id=uuid.UUID(raw)).first()
        except ValueError:
            found = None
        if found is not None:
            return found
    return services.default_pipeline()


def _all_stages() -> list[Stage]:
    return list(
        Stage.objects.filter(pipeline__active=True)
        .select_related("pipeline")
        .order_by("-pipeline__is_default", "pipeline__name", "order")
    )


def _visible_parties(
    user, kind: str, *, include: list[Party] | None = None, posted: str = ""
) -> list[Party]:
    """The choices of a record picker: the records already chosen and the one posted.

    Never a list of everyone: the picker finds the rest through the search service.
    A posted id the user may not see is left out, so the form refuses it.
    """
    found = [p for p in include or [] if p is not None]
    if posted:
        try:
            party = people_access.get_party(user, posted, kind=kind, follow_merged=False)
        except KithError:
            party = None
        if party is not None and party.status == Party.Status.ACTIVE and party not in found:
            found.append(party)
    return found


HIDDEN = "(hidden)"


def _hidden_choice(party: Party, visible: set[int]) -> Any:
    """``party`` as a picker choice: itself when visible, else its id without its name."""
    if party.pk in visible:
        return party
    return SimpleNamespace(pk=party.pk, public_id=party.public_id, display_name=HIDDEN)


def _nav(active: str) -> dict[str, Any]:
    return {"nav": "sales", "sales_tab": active}


# ---------------------------------------------------------------- board


def _board_context(
    request: HttpRequest, pipeline: Pipeline | None, *, moved: Deal | None = None, **extra
) -> dict[str, Any]:
    show_closed = request.GET.get("closed") == "show"
    columns = queries.board(request.user, pipeline, show_closed=show_closed) if pipeline else []
    if moved is not None:
        # A deal just moved into a collapsed column stays in sight, so the move is seen.
        for column in columns:
            if column.collapsed and column.stage.pk == moved.stage_id:
                column.deals = list(queries.with_list_data(Deal.objects.filter(pk=moved.pk)))
    deals = [d for c in columns for d in c.deals]
    board_url = reverse("sales:board") + (f"?pipeline={pipeline.public_id}" if pipeline else "")
    return {
        "visible_parties": access.visible_party_ids(request.user, deals),
        **_nav("board"),
        "pipeline": pipeline,
        "pipelines": _pipelines(),
        "columns": columns,
        "stages": [c.stage for c in columns],
        "can_write": request.user.can_write,
        "board_url": board_url,
        "show_closed_url": board_url + ("&" if pipeline else "?") + "closed=show",
        "show_closed": show_closed,
        "base_currency": base_currency(),
        "today": timezone.localdate(),
        "moved": moved.public_id if moved is not None else None,
        "moved_deal": moved,
        **extra,
    }


@staff_view
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    pipeline = _pipeline_from(request)
    context = _board_context(request, pipeline)
    if request.htmx and request.htmx.target == "board":
        return render(request, "sales/_board.html", context)
    return render(request, "sales/board.html", context)


@staff_view
@require_POST
def deal_move(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Move a deal (board card form, drag-and-drop or the deal page) and come back."""
    deal = access.get_deal_for_change(request.user, public_id)
    form = MoveForm(request.POST)
    errors: list[FieldError] = []
    if form.is_valid():
        stage = Stage.objects.filter(public_id=form.cleaned_data["stage"]).first()
        if stage is None:
            errors = [FieldError("stage", "No such stage.")]
        else:
            try:
                services.move_deal(
                    actor=request.user,
                    deal=deal,
                    stage=stage,
                    lost_reason=form.cleaned_data["lost_reason"],
                )
            except ValidationFailed as exc:
                errors = exc.errors
    else:
        errors = [FieldError(k, str(v[0])) for k, v in form.errors.items()]
    if request.htmx and request.htmx.target == "board":
        pipeline = Pipeline.objects.get(pk=Deal.objects.get(pk=deal.pk).pipeline_id)
        context = _board_context(
            request,
            pipeline,
            move_errors={deal.public_id: errors} if errors else {},
            moved=Deal.objects.select_related("stage").get(pk=deal.pk) if not errors else None,
        )
        return render(request, "sales/_board.html", context, status=422 if errors else 200)
    if errors:
        return deal_detail_response(request, deal, move_errors=errors, status=422)
    return redirect(_safe_next(request, reverse("sales:deal", args=[deal.public_id])))


# ---------------------------------------------------------------- list


@staff_view
@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = 200
    filter_errors: list[FieldError] = []
    base = queries.with_list_data(access.scope_deals(user))
    try:
        filters = queries.DealFilters.from_mapping(request.GET)
        qs = queries.apply_filters(base, filters)
    except ValidationFailed as exc:
        filters, qs, filter_errors, status = queries.DealFilters(), base, exc.errors, 422
    cursor = request.GET.get("cursor") or None
    try:
        page = paginate(qs, order=("-id",), cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed as exc:
        page = paginate(qs, order=("-id",), cursor=None, limit=PAGE_SIZE)
        filter_errors += exc.errors
    applied = filters.applied()
    party = None
    if filters.party:
        try:
            party = people_access.get_party(user, filters.party, follow_merged=False)
        except KithError:
            party = None
    context = {
        **_nav("list"),
        "deals": page.items,
        "visible_parties": access.visible_party_ids(user, page.items),
        "filters": filters,
        "applied": applied,
        "party": party,
        "filter_errors": filter_errors,
        "next_url": (
            f"{reverse('sales:deals')}?{urlencode({**applied, 'cursor': page.next_cursor})}"
            if page.next_cursor
            else ""
        ),
        "pipelines": _pipelines(),
        "stages": _all_stages(),
        "owners": User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("username"),
        "categories": ForecastCategory.choices,
        "can_write": user.can_write,
    }
    if (
        request.htmx
        and request.htmx.target == "results"
        and not request.htmx.history_restore_request
    ):
        return render(request, "sales/_deal_rows.html", context, status=status)
    return render(request, "sales/deal_list.html", context, status=status)


# ---------------------------------------------------------------- create / edit


def _deal_form(request: HttpRequest, *, deal: Deal | None, data=None) -> DealForm:
    user = request.user
    include_org = [deal.organization] if deal and deal.organization_id else []
    include_person = [deal.person] if deal and deal.person_id else []
    if deal is not None:
        # The deal's own references are choices, but named only to who may see them.
        visible = access.visible_party_ids(user, [deal])
        include_org = [_hidden_choice(p, visible) for p in include_org]
        include_person = [_hidden_choice(p, visible) for p in include_person]
    initial: dict[str, Any] = {}
    if deal is None:
        initial = {
            "currency": base_currency(),
            "owner": user.username,
            "visibility": "everyone",
            "forecast_category": "pipeline",
        }
        for key in ("organization", "person"):
            raw = request.GET.get(key, "")
            if raw:
                try:
                    party = people_access.get_party(user, raw, follow_merged=False)
                    initial[key] = str(party.public_id)
                    (include_org if key == "organization" else include_person).append(party)
                except KithError:
                    pass
        pipeline = _pipeline_from(request)
        first = services.first_open_stage(pipeline) if pipeline else None
        if first is not None:
            initial["stage"] = str(first.public_id)
    else:
        initial = {
            "title": deal.title,
            "organization": str(deal.organization.public_id) if deal.organization_id else "",
            "person": str(deal.person.public_id) if deal.person_id else "",
            "amount": deal.amount,
            "currency": deal.currency,
            "probability": deal.probability,
            "forecast_category": deal.forecast_category,
            "expected_close_date": deal.expected_close_date,
            "next_step": deal.next_step,
            "owner": deal.owner.username if deal.owner_id else "",
            "visibility": deal.visibility,
            "team": deal.team.name if deal.team_id else "",
            "notes": deal.notes,
        }
    return DealForm(
        data,
        initial=initial,
        organizations=_visible_parties(
            user,
            Party.Kind.ORGANIZATION,
            include=include_org,
            posted=data.get("organization", "") if data is not None else "",
        ),
        people=_visible_parties(
            user,
            Party.Kind.PERSON,
            include=include_person,
            posted=data.get("person", "") if data is not None else "",
        ),
        stages=_all_stages(),
        owners=User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("username"),
        teams=Team.objects.all() if user.sees_everything else user.teams.all(),
        creating=deal is None,
        locale=user_locale(user),
    )


def _form_data(request: HttpRequest, form: DealForm, deal: Deal | None) -> dict[str, Any]:
    """Turn the parsed form into service input (references resolved with access checks)."""
    cd = form.cleaned_data
    data: dict[str, Any] = {
        "title": cd["title"],
        "currency": cd["currency"],
        "expected_close_date": cd["expected_close_date"],
        "next_step": cd["next_step"],
        "visibility": cd["visibility"],
        "notes": cd["notes"],
    }
    if cd.get("forecast_category") and not (deal and deal.stage.is_closed):
        data["forecast_category"] = cd["forecast_category"]
    if not (deal and deal.lines.exists()):
        data["amount"] = cd["amount"] or "0"
    if cd["probability"] is not None:
        data["probability"] = cd["probability"]
    for key, kind in (("organization", Party.Kind.ORGANIZATION), ("person", Party.Kind.PERSON)):
        raw = cd[key]
        data[key] = None
        if raw:
            try:
                data[key] = people_access.get_party(
                    request.user, raw, kind=kind, follow_merged=False
                )
            except KithError as exc:
                raise ValidationFailed.single(key, "No such record.") from exc
    data["owner"] = (
        User.objects.filter(username=cd["owner"], kind=User.Kind.STAFF).first()
        if cd["owner"]
        else None
    )
    data["team"] = Team.objects.filter(name=cd["team"]).first() if cd["team"] else None
    return data


def _render_form(
    request: HttpRequest, form: DealForm, deal: Deal | None, status: int = 200
) -> HttpResponse:
    context = {
        **_nav("list"),
        "form": form,
        "deal": deal,
        "has_lines": bool(deal and deal.lines.exists()),
    }
    if request.htmx and request.htmx.target == "deal-form":
        return render(request, "sales/_deal_form.html", context, status=status)
    return render(request, "sales/deal_form.html", context, status=status)


def _save_deal(request: HttpRequest, deal: Deal | None) -> HttpResponse:
    form = _deal_form(request, deal=deal, data=request.POST)
    if form.is_valid():
        try:
            data = _form_data(request, form, deal)
            if deal is None:
                # An empty stage means the default pipeline's first (the service decides).
                raw_stage = form.cleaned_data["stage"]
                stage = Stage.objects.filter(public_id=raw_stage).first() if raw_stage else None
                saved = services.create_deal(actor=request.user, data=data, stage=stage)
            else:
                saved = services.update_deal(actor=request.user, deal=deal, data=data)
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            url = reverse("sales:deal", args=[saved.public_id])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _render_form(request, form, deal, status=422)


@staff_view
@require_http_methods(["GET", "POST"])
def deal_new(request: HttpRequest) -> HttpResponse:
    access.require_writer(request.user)
    if request.method == "POST":
        return _save_deal(request, None)
    return _render_form(request, _deal_form(request, deal=None), None)


@staff_view
@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    deal = access.get_deal_for_change(request.user, public_id)
    if request.method == "POST":
        return _save_deal(request, deal)
    return _render_form(request, _deal_form(request, deal=deal), deal)


@staff_view
@require_POST
def deal_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    deal = access.get_deal_for_change(request.user, public_id)
    title = deal.title
    item = services.delete_deal(actor=request.user, deal=deal)
    undo_message(request, item, f"Deal “{title}”")
    url = reverse("sales:deals")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# ---------------------------------------------------------------- deal page


def deal_detail_response(
    request: HttpRequest,
    deal: Deal,
    *,
    line_form: LineForm | None = None,
    contact_form: ContactForm | None = None,
    move_errors: list[FieldError] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    deal = access.get_deal(user, deal.public_id)
    can_change = access.can_change_deal(user, deal)
    products = list(Product.objects.filter(active=True))
    contact_people = _visible_parties(user, Party.Kind.PERSON)
    visible_people = people_access.staff_scope(user).values("pk")
    history = queries.stage_history(deal)
    for item in history:
        item["duration"] = queries.format_duration(item["seconds_in_stage"])
    context = {
        **_nav("list"),
        "deal": deal,
        "can_change": can_change,
        "lines": list(deal.lines.select_related("product")),
        "contacts": list(deal.contacts.select_related("person").filter(person__in=visible_people)),
        "history": history,
        "timeline": queries.deal_timeline(user, deal),
        "stages": list(deal.pipeline.stages.order_by("order")),
        "all_stages": _all_stages(),
        "line_form": line_form or LineForm(products=products),
        "contact_form": contact_form or ContactForm(people=contact_people),
        "move_errors": move_errors or [],
        "org_visible": bool(
            deal.organization_id
            and people_access.staff_scope(user).filter(pk=deal.organization_id).exists()
        ),
        "person_visible": bool(
            deal.person_id and people_access.staff_scope(user).filter(pk=deal.person_id).exists()
        ),
    }
    return render(request, "sales/deal_detail.html", context, status=status)


@staff_view
@require_GET
def deal_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return deal_detail_response(request, access.get_deal(request.user, public_id))


@staff_view
@require_POST
def line_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    deal = access.get_deal_for_change(request.user, public_id)
    products = list(Product.objects.filter(active=True))
    form = LineForm(request.POST, products=products)
    if form.is_valid():
        cd = form.cleaned_data
        product = Product.objects.filter(public_id=cd["product"]).first() if cd["product"] else None
        try:
            services.add_line(
                actor=request.user,
                deal=deal,
                product=product,
                description=cd["description"],
                quantity=cd["quantity"],
                unit_price=cd["unit_price"] or None,
                discount=cd["discount"] or "0",
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            return redirect(reverse("sales:deal", args=[deal.public_id]) + "#lines")
    return deal_detail_response(request, deal, line_form=form, status=422)


@staff_view
@require_POST
def line_remove(request: HttpRequest, public_id: uuid.UUID, line_id: uuid.UUID) -> HttpResponse:
    line = access.get_line(request.user, line_id, change=True)
    if line.deal.public_id != public_id:
        raise NotFound("No such line item.")
    services.remove_line(actor=request.user, line=line)
    return redirect(reverse("sales:deal", args=[public_id]) + "#lines")


@staff_view
@require_POST
def contact_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    deal = access.get_deal_for_change(request.user, public_id)
    form = ContactForm(
        request.POST,
        people=_visible_parties(
            request.user, Party.Kind.PERSON, posted=request.POST.get("person", "")
        ),
    )
    if form.is_valid():
        try:
            person = people_access.get_party(
                request.user, form.cleaned_data["person"], kind=Party.Kind.PERSON
            )
            services.add_contact(
                actor=request.user, deal=deal, person=person, role=form.cleaned_data["role"]
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            return redirect(reverse("sales:deal", args=[deal.public_id]) + "#people")
    return deal_detail_response(request, deal, contact_form=form, status=422)


@staff_view
@require_POST
def contact_remove(
    request: HttpRequest, public_id: uuid.UUID, contact_id: uuid.UUID
) -> HttpResponse:
    contact = access.get_contact(request.user, contact_id, change=True)
    if contact.deal.public_id != public_id:
        raise NotFound("No such deal contact.")
    services.remove_contact(actor=request.user, contact=contact)
    return redirect(reverse("sales:deal", args=[public_id]) + "#people")


# ---------------------------------------------------------------- forecast


CHART_WIDTH = 720
CHART_HEIGHT = 240
CHART_LEFT = 64
CHART_BOTTOM = 28
SERIES = (
    ("closed_won", "Closed won"),
    ("commit", "Commit"),
    ("best_case", "Best case"),
    ("pipeline", "Pipeline"),
)


def _nice_ceiling(value: Decimal) -> Decimal:
    """A round axis maximum at or above ``value`` (1, 2 or 5 × a power of ten)."""
    if value <= 0:
        return Decimal(1)
    exponent = len(str(int(value))) - 1
    power = Decimal(10) ** exponent
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover


def chart(fc: queries.Forecast) -> dict[str, Any]:
    """Geometry of the stacked bar chart (drawn as inline SVG by the template)."""
    plot_w = CHART_WIDTH - CHART_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_BOTTOM - 8
    top = _nice_ceiling(fc.max_bar)
    n = max(1, len(fc.periods))
    slot = plot_w / n
    bar_w = max(6.0, min(56.0, slot * 0.6))
    bars = []
    for i, p in enumerate(fc.periods):
        x = CHART_LEFT + i * slot + (slot - bar_w) / 2
        y = CHART_HEIGHT - CHART_BOTTOM
        segments = []
        for key, label in SERIES:
            value = getattr(p.figures, key)
            if value <= 0:
                continue
            h = float(value / top) * plot_h
            y -= h
            segments.append(
                {"key": key, "label": label, "value": value, "x": x, "y": y, "w": bar_w, "h": h}
            )
        weighted_y = CHART_HEIGHT - CHART_BOTTOM - float(p.figures.weighted_pipeline / top) * plot_h
        bars.append(
            {
                "period": p,
                "segments": segments,
                "label_x": x + bar_w / 2,
                "weighted_y": weighted_y,
                "weighted_x1": x - 3,
                "weighted_x2": x + bar_w + 3,
            }
        )
    ticks = []
    for k in range(5):
        value = top * k / 4
        ticks.append({"value": value, "y": CHART_HEIGHT - CHART_BOTTOM - plot_h * k / 4})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - 8,
        "baseline": CHART_HEIGHT - CHART_BOTTOM,
        "label_y": CHART_HEIGHT - 10,
        "bars": bars,
        "ticks": ticks,
        "series": SERIES,
    }


def _date_param(request: HttpRequest, key: str, errors: list[FieldError]) -> dt.date | None:
    raw = (request.GET.get(key) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(key, "Must be a date as YYYY-MM-DD."))
        return None


@staff_view
@require_GET
def forecast(request: HttpRequest) -> HttpResponse:
    errors: list[FieldError] = []
    period = request.GET.get("period") or "quarter"
    group = request.GET.get("group") or "owner"
    start = _date_param(request, "from", errors)
    end = _date_param(request, "to", errors)
    currency = (request.GET.get("currency") or "").strip().upper()
    pipeline_raw = request.GET.get("pipeline", "")
    pipeline = _pipeline_from(request, pipeline_raw) if pipeline_raw else None
    fc = None
    missing = None
    status = 200
    if not errors:
        try:
            fc = queries.forecast(
                request.user,
                period=period,
                group=group,
                start=start,
                end=end,
                pipeline=pipeline,
                currency=currency,
            )
        except queries.MissingExchangeRate as exc:
            missing, status = exc, 422
        except ValidationFailed as exc:
            errors, status = exc.errors, 422
    else:
        status = 422
    default_start, default_end = queries.default_range(period)
    context = {
        **_nav("forecast"),
        "fc": fc,
        "chart": chart(fc) if fc else None,
        "missing": missing,
        "errors": errors,
        "period": period,
        "group": group,
        "start": start or default_start,
        "end": end or default_end,
        "currency": currency,
        "pipeline": pipeline,
        "pipelines": _pipelines(),
        "base_currency": base_currency(),
    }
    return render(request, "sales/forecast.html", context, status=status)


@staff_view
@require_GET
def conversion(request: HttpRequest) -> HttpResponse:
    errors: list[FieldError] = []
    today = timezone.localdate()
    start = _date_param(request, "from", errors) or today - dt.timedelta(days=365)
    end = _date_param(request, "to", errors) or today
    pipeline = _pipeline_from(request)
    stats = []
    status = 200
    if pipeline is not None and not errors:
        try:
            stats = queries.conversion(request.user, pipeline=pipeline, start=start, end=end)
        except ValidationFailed as exc:
            errors, status = exc.errors, 422
    if errors:
        status = 422
    rows = [
        {
            "s": s,
            "conversion_pct": None if s.conversion is None else round(100 * s.conversion),
            "win_pct": None if s.win_rate is None else round(100 * s.win_rate),
            "duration": queries.format_duration(s.average_seconds),
        }
        for s in stats
    ]
    context = {
        **_nav("conversion"),
        "rows": rows,
        "pipeline": pipeline,
        "pipelines": _pipelines(),
        "start": start,
        "end": end,
        "errors": errors,
    }
    return render(request, "sales/conversion.html", context, status=status)


# ---------------------------------------------------------------- products


@staff_view
@require_http_methods(["GET", "POST"])
def products(request: HttpRequest) -> HttpResponse:
    """The price list, pipelines and exchange rates; managers and admins add to them here."""
    form = ProductForm(initial={"currency": base_currency()})
    rate_form = RateForm(initial={"valid_from": timezone.localdate()})
    status = 200
    if request.method == "POST":
        access.require_manager(request.user)
        if request.POST.get("form") == "rate":
            rate_form = RateForm(request.POST)
            if rate_form.is_valid():
                try:
                    services.set_exchange_rate(actor=request.user, **rate_form.cleaned_data)
                except ValidationFailed as exc:
                    apply_errors(rate_form, exc.errors)
                else:
                    return redirect(reverse("sales:products") + "#rates")
        else:
            form = ProductForm(request.POST)
            if form.is_valid():
                try:
                    services.create_product(actor=request.user, data=dict(form.cleaned_data))
                except ValidationFailed as exc:
                    apply_errors(form, exc.errors)
                else:
                    return redirect("sales:products")
        status = 422
    context = {
        **_nav("products"),
        "products": Product.objects.all(),
        "pipelines": _pipelines(),
        "rates": ExchangeRate.objects.order_by("currency", "-valid_from")[:200],
        "base_currency": base_currency(),
        "form": form,
        "rate_form": rate_form,
        "can_manage": request.user.sees_everything,
    }
    return render(request, "sales/products.html", context, status=status)


# ---------------------------------------------------------------- pipelines and stages
#
# Every staff user sees the pipelines; admins and managers change them. All the forms
# live in one fragment (``#pipeline-admin``) that htmx swaps: a form that fails comes
# back bound, with its field errors, and a refused delete comes back with the
# service's message next to the record. Forms are keyed by the record's public id so
# that only the failing one is bound and every field id on the page stays unique.


def _key(obj) -> str:
    return obj.public_id.hex


def _stage_initial(stage: Stage) -> dict[str, Any]:
    outcome = "won" if stage.is_won else "lost" if stage.is_lost else "open"
    return {"name": stage.name, "probability": stage.probability, "outcome": outcome}


def _stage_input(form: StageForm) -> services.StageInput:
    cd = form.cleaned_data
    return services.StageInput(
        name=cd["name"],
        probability=cd["probability"],
        is_won=cd["outcome"] == "won",
        is_lost=cd["outcome"] == "lost",
    )


def _stage_errors(errors: list[FieldError]) -> list[FieldError]:
    """The service speaks of ``is_won``/``is_lost``; the form has one ``outcome`` field."""
    return [
        FieldError("outcome", e.message) if e.field in ("is_won", "is_lost") else e for e in errors
    ]


def _new_pipeline_errors(errors: list[FieldError]) -> list[FieldError]:
    """Map ``stages[0].name`` etc. onto the new-pipeline form's first-stage fields."""
    fields = {
        "stages[0].name": "first_stage",
        "stages[0].probability": "first_probability",
        "stages[0].is_lost": "first_stage",
    }
    return [
        FieldError(
            fields.get(e.field, e.field if e.field in ("name", "is_default") else ""), e.message
        )
        for e in errors
    ]


def _pipeline_admin(
    request: HttpRequest,
    *,
    bound: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The pipelines page (or, for htmx, its ``#pipeline-admin`` fragment)."""
    bound = bound or {}
    errors = errors or {}
    can_manage = request.user.sees_everything
    pipelines = list(Pipeline.objects.prefetch_related("stages").order_by("-is_default", "name"))
    rows = []
    for pipeline in pipelines:
        key = _key(pipeline)
        stages = sorted(pipeline.stages.all(), key=lambda s: (s.order, s.id))
        row: dict[str, Any] = {"pipeline": pipeline, "key": key, "error": errors.get(key, "")}
        if can_manage:
            row["form"] = bound.get(key) or PipelineForm(
                initial={
                    "name": pipeline.name,
                    "is_default": pipeline.is_default,
                    "active": pipeline.active,
                },
                auto_id=f"id_{key}_%s",
            )
            row["add_form"] = bound.get(f"add-{key}") or StageForm(auto_id=f"id_add{key}_%s")
        row["stages"] = [
            {
                "stage": s,
                "key": _key(s),
                "error": errors.get(_key(s), ""),
                "first": i == 0,
                "last": i == len(stages) - 1,
                "form": (
                    bound.get(_key(s))
                    or StageForm(initial=_stage_initial(s), auto_id=f"id_{_key(s)}_%s")
                )
                if can_manage
                else None,
            }
            for i, s in enumerate(stages)
        ]
        rows.append(row)
    context = {
        **_nav("pipelines"),
        "rows": rows,
        "can_manage": can_manage,
        "new_form": bound.get("new") or PipelineNewForm(auto_id="id_new_%s"),
        "error": errors.get("", ""),
    }
    if request.htmx and request.htmx.target == "pipeline-admin":
        return render(request, "sales/_pipeline_admin.html", context, status=status)
    return render(request, "sales/pipelines.html", context, status=status)


def _pipeline_done(request: HttpRequest, anchor: str = "") -> HttpResponse:
    """After a change: htmx gets the fresh fragment, a plain form a redirect (PRG)."""
    if request.htmx and request.htmx.target == "pipeline-admin":
        return _pipeline_admin(request)
    return redirect(reverse("sales:pipelines") + (f"#{anchor}" if anchor else ""))


def _refused(request: HttpRequest, key: str, exc: KithError) -> HttpResponse:
    """A delete or move the service refused: the page again, the reason next to the record.

    The status is the error's own (409 for a conflict) without htmx; with htmx it is
    422, the one error status the base template's htmx config swaps in.
    """
    message = "; ".join(e.message for e in exc.errors) if exc.errors else exc.message
    status = 422 if request.htmx else exc.status
    return _pipeline_admin(request, errors={key: message}, status=status)


@staff_view
@require_http_methods(["GET", "POST"])
def pipelines(request: HttpRequest) -> HttpResponse:
    """List pipelines and stages; a POST (managers and admins) creates a pipeline."""
    if request.method == "GET":
        return _pipeline_admin(request)
    access.require_manager(request.user)
    form = PipelineNewForm(request.POST, auto_id="id_new_%s")
    if form.is_valid():
        cd = form.cleaned_data
        try:
            created = services.create_pipeline(
                actor=request.user,
                name=cd["name"],
                is_default=cd["is_default"],
                stages=[
                    services.StageInput(name=cd["first_stage"], probability=cd["first_probability"])
                ],
            )
        except ValidationFailed as exc:
            apply_errors(form, _new_pipeline_errors(exc.errors))
        else:
            return _pipeline_done(request, f"p-{_key(created)}")
    return _pipeline_admin(request, bound={"new": form}, status=422)


@staff_view
@require_POST
def pipeline_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    pipeline = access.get_pipeline(request.user, public_id)
    access.require_manager(request.user)
    key = _key(pipeline)
    form = PipelineForm(request.POST, auto_id=f"id_{key}_%s")
    if form.is_valid():
        try:
            services.update_pipeline(actor=request.user, pipeline=pipeline, **form.cleaned_data)
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            return _pipeline_done(request, f"p-{key}")
    return _pipeline_admin(request, bound={key: form}, status=422)


@staff_view
@require_POST
def pipeline_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    pipeline = access.get_pipeline(request.user, public_id)
    access.require_manager(request.user)
    try:
        services.delete_pipeline(actor=request.user, pipeline=pipeline)
    except (Conflict, ValidationFailed) as exc:
        return _refused(request, _key(pipeline), exc)
    return _pipeline_done(request)


@staff_view
@require_POST
def stage_add(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    pipeline = access.get_pipeline(request.user, public_id)
    access.require_manager(request.user)
    key = _key(pipeline)
    form = StageForm(request.POST, auto_id=f"id_add{key}_%s")
    if form.is_valid():
        try:
            services.add_stage(actor=request.user, pipeline=pipeline, stage=_stage_input(form))
        except ValidationFailed as exc:
            apply_errors(form, _stage_errors(exc.errors))
        else:
            return _pipeline_done(request, f"p-{key}")
    return _pipeline_admin(request, bound={f"add-{key}": form}, status=422)


@staff_view
@require_POST
def stage_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    stage = access.get_stage(request.user, public_id)
    access.require_manager(request.user)
    key = _key(stage)
    form = StageForm(request.POST, auto_id=f"id_{key}_%s")
    if form.is_valid():
        stage_in = _stage_input(form)
        data = {
            "name": stage_in.name,
            "probability": stage_in.probability,
            "is_won": stage_in.is_won,
            "is_lost": stage_in.is_lost,
        }
        try:
            services.update_stage(actor=request.user, stage=stage, data=data)
        except ValidationFailed as exc:
            apply_errors(form, _stage_errors(exc.errors))
        else:
            return _pipeline_done(request, f"s-{key}")
    return _pipeline_admin(request, bound={key: form}, status=422)


@staff_view
@require_POST
def stage_move(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Move a stage one place up or down (buttons, so it works from the keyboard)."""
    stage = access.get_stage(request.user, public_id)
    access.require_manager(request.user)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return _refused(
            request, _key(stage), ValidationFailed.single("direction", "Choose up or down.")
        )
    order = list(stage.pipeline.stages.order_by("order", "id").values_list("pk", flat=True))
    index = order.index(stage.pk)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(order):  # already first/last: nothing to do
        services.update_stage(actor=request.user, stage=stage, data={"position": target + 1})
    return _pipeline_done(request, f"s-{_key(stage)}")


@staff_view
@require_POST
def stage_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    stage = access.get_stage(request.user, public_id)
    access.require_manager(request.user)
    try:
        services.delete_stage(actor=request.user, stage=stage)
    except (Conflict, ValidationFailed) as exc:
        return _refused(request, _key(stage), exc)
    return _pipeline_done(request, f"p-{_key(stage.pipeline)}")


# ---------------------------------------------------------------- panel on party pages

PANEL_DEALS = 8


def party_panel(request: HttpRequest, party: Party) -> str | None:
    """The deals of ``party`` (as organisation, person or linked contact) for its page."""
    user = request.user
    if not getattr(user, "is_staff_user", False):
        return None
    filters = queries.DealFilters(party=str(party.public_id))
    qs = queries.apply_filters(queries.with_list_data(access.scope_deals(user)), filters)
    deals = list(qs.order_by("-id")[: PANEL_DEALS + 1])
    if not deals and not user.can_write:
        return None
    key = "organization" if party.kind == Party.Kind.ORGANIZATION else "person"
    return render(
        request,
        "sales/_party_panel.html",
        {
            "party": party,
            "deals": deals[:PANEL_DEALS],
            "more": len(deals) > PANEL_DEALS,
            "list_url": f"{reverse('sales:deals')}?party={party.public_id}",
            "new_url": f"{reverse('sales:deal_new')}?{key}={party.public_id}",
            "can_write": user.can_write,
        },
    ).content.decode()
