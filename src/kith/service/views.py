"""Web UI for the service desk (thin: forms + access + services + templates).

Staff pages are wrapped in ``staff_view`` (login required, portal users get 404, times
in the user's time zone, audit channel "web"). The CSAT page is public: the signed
token is the only credential. Forms post normally and redirect (or re-render with
errors and status 422), so every page works without JavaScript.
"""

from __future__ import annotations

import datetime as dt

import nh3
from django.contrib import messages
from django.db.models import F, Prefetch
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.accounts.models import User
from kith.core.context import channel as audit_channel
from kith.core.errors import KithError, NotFound, ValidationFailed
from kith.core.pagination import paginate
from kith.people import access as people_access
from kith.people.models import ContactPoint, Party, Relationship
from kith.people.normalize import InvalidContactPoint, normalize_email
from kith.service import access, inbound, queries, services
from kith.service.forms import (
    WEEKDAYS,
    AssignForm,
    CalendarForm,
    CaseForm,
    CsatForm,
    MessageForm,
    QueueForm,
    SlaPolicyForm,
    UploadForm,
    apply_errors,
)
from kith.service.models import (
    Attachment,
    BusinessCalendar,
    Case,
    InboundMail,
    Priority,
    Queue,
    SlaPolicy,
    Status,
)
from kith.web.decorators import staff_view
from kith.web.trash import undo_message

PAGE_SIZE = 50
SAFE_MAIL_TAGS = set(nh3.ALLOWED_TAGS) - {"img"}


def _party(user, raw: str, kind: str) -> Party | None:
    """The active person or organisation ``raw`` (a public id) names, if ``user`` may see it."""
    if not raw:
        return None
    try:
        party = people_access.get_party(user, raw, kind=kind, follow_merged=False)
    except KithError:
        return None
    return party if party.status == Party.Status.ACTIVE else None


def _choices(user, kind: str, *, include: Party | None = None, posted: str = "") -> list[Party]:
    """A record picker's choices: the record already chosen and the one posted (checked).

    Never a list of everyone: the picker finds the rest through the search service; a
    posted id the user may not see is left out, so the form refuses it.
    """
    found = [include] if include is not None else []
    chosen = _party(user, posted, kind)
    if chosen is not None and chosen not in found:
        found.append(chosen)
    return found


def _current_organization(user, person: Party) -> Party | None:
    """The organisation of the person's current role, one the user may see (or None)."""
    rels = (
        Relationship.objects.current()
        .filter(
            subject=person,
            object__kind=Party.Kind.ORGANIZATION,
            object__status=Party.Status.ACTIVE,
            object__in=people_access.staff_scope(user).values("pk"),
        )
        .select_related("object")
        # The latest role started wins (undated roles last), as on the person page.
        .order_by(F("valid_from").desc(nulls_last=True), "-id")
    )
    rel = rels.first()
    return rel.object if rel else None


def _new_case_initial(request: HttpRequest) -> tuple[dict, Party | None, Party | None]:
    """ "New case" started from a record page: ``?requester=`` (a person) and
    ``?organization=`` filled in; without an organisation, the requester's current one."""
    user = request.user
    requester = _party(user, request.GET.get("requester", ""), Party.Kind.PERSON)
    org = _party(user, request.GET.get("organization", ""), Party.Kind.ORGANIZATION)
    if org is None and requester is not None:
        org = _current_organization(user, requester)
    initial: dict = {}
    if requester is not None:
        initial["requester"] = str(requester.public_id)
        email = (
            requester.contact_points.filter(channel=ContactPoint.EMAIL)
            .order_by("-primary", "id")
            .values_list("value", flat=True)
            .first()
        )
        if email:
            initial["requester_email"] = email
    if org is not None:
        initial["organization"] = str(org.public_id)
    return initial, requester, org


# ---------------------------------------------------------------- queue view


def _list_filters(request: HttpRequest) -> queries.CaseFilters:
    status = request.GET.get("status", "")
    breached = request.GET.get("breached", "")
    return queries.CaseFilters(
        status=[status] if status else None,
        queue=request.GET.get("queue", ""),
        assignee=request.GET.get("assignee", ""),
        priority=request.GET.get("priority", ""),
        breached=True if breached == "yes" else False if breached == "no" else None,
        requester=request.GET.get("requester", ""),
        q=request.GET.get("q", ""),
    )


def _row(case: Case, now: dt.datetime) -> dict:
    clock = queries.next_clock(case, now=now)
    return {
        "case": case,
        "clock": clock,
        "left": queries.format_duration(clock.remaining_seconds if clock else None),
    }


@staff_view
def case_list(request: HttpRequest) -> HttpResponse:
    """The queue view: open cases by next SLA deadline, with time left or a breach badge."""
    filters = _list_filters(request)
    errors = []
    qs = access.scope_cases(request.user)
    try:
        qs = queries.apply_filters(qs, filters, user=request.user)
        page = paginate(
            queries.list_queryset(qs),
            order=("next_due_at", "id"),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
        queries.attach_shared(page.items)
    except ValidationFailed as exc:
        errors = exc.errors or [exc]
        page = paginate(Case.objects.none(), order=("id",), cursor=None, limit=1)
    now = timezone.now()
    return render(
        request,
        "service/case_list.html",
        {
            "nav": "service",
            "rows": [_row(c, now) for c in page.items],
            "next_cursor": page.next_cursor,
            "filters": request.GET,
            "queues": Queue.objects.all(),
            "statuses": Status.choices,
            "priorities": Priority.choices,
            "filter_errors": errors,
            "can_write": request.user.can_write,
        },
    )


# ---------------------------------------------------------------- case page


def _find_requester(user, email_address: str) -> Party | None:
    try:
        normalized = normalize_email(email_address)
    except InvalidContactPoint:
        return None
    point = (
        ContactPoint.objects.filter(channel=ContactPoint.EMAIL, normalized=normalized)
        .filter(party__in=people_access.staff_scope(user).values("pk"))
        .select_related("party")
        .first()
    )
    return point.party if point else None


@staff_view
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    access.require_writer(request.user)
    user = request.user
    initial, requester, org = (
        _new_case_initial(request) if request.method == "GET" else ({}, None, None)
    )
    form = CaseForm(
        request.POST or None,
        initial=initial,
        organizations=_choices(
            user, Party.Kind.ORGANIZATION, include=org, posted=request.POST.get("organization", "")
        ),
        people=_choices(
            user, Party.Kind.PERSON, include=requester, posted=request.POST.get("requester", "")
        ),
    )
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["requester"]:
            requester = _party(user, form.cleaned_data["requester"], Party.Kind.PERSON)
        else:
            requester = _find_requester(user, form.cleaned_data["requester_email"])
        if requester is None:
            form.add_error(
                "requester_email", "No person with this e-mail; add them in People first."
            )
        else:
            data = services.CaseInput(
                subject=form.cleaned_data["subject"],
                description=form.cleaned_data["description"],
                requester=requester,
                organization=_party(
                    user, form.cleaned_data["organization"], Party.Kind.ORGANIZATION
                ),
                origin=form.cleaned_data["origin"],
                priority=form.cleaned_data["priority"],
                queue=form.cleaned_data["queue"],
                assignee=form.cleaned_data["assignee"],
                tags=form.tag_list(),
            )
            try:
                case = services.create_case(actor=request.user, data=data)
            except ValidationFailed as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, f"Case {case.token} created.")
                return redirect("service:case", public_id=case.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "service/case_form.html",
        {"nav": "service", "form": form, "title": "New case"},
        status=status,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, public_id) -> HttpResponse:
    case = access.get_case_for_change(request.user, public_id)
    initial = {
        "subject": case.subject,
        "description": case.description,
        "organization": str(case.organization.public_id) if case.organization_id else "",
        "origin": case.origin,
        "priority": case.priority,
        "queue": case.queue,
        "tags": ", ".join(case.tags.values_list("name", flat=True)),
    }
    form = CaseForm(
        request.POST or None,
        initial=initial,
        organizations=_choices(
            request.user,
            Party.Kind.ORGANIZATION,
            include=case.organization,
            posted=request.POST.get("organization", ""),
        ),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        changes = {
            "subject": form.cleaned_data["subject"],
            "description": form.cleaned_data["description"],
            "origin": form.cleaned_data["origin"],
            "priority": form.cleaned_data["priority"],
            "tags": form.tag_list(),
        }
        organization = _party(
            request.user, form.cleaned_data["organization"], Party.Kind.ORGANIZATION
        )
        if organization != case.organization:
            changes["organization"] = organization
        if form.cleaned_data["queue"] != case.queue:
            changes["queue"] = form.cleaned_data["queue"]
        try:
            services.update_case(actor=request.user, case=case, changes=changes)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Case saved.")
            return redirect("service:case", public_id=case.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "service/case_form.html",
        {"nav": "service", "form": form, "title": f"Edit {case.token}", "case": case},
        status=status,
    )


def _conversation(user, case: Case) -> list[dict]:
    rows = []
    qs = (
        access.visible_messages(user, case)
        .select_related("author", "sender")
        .prefetch_related("attachments")
        .order_by("occurred_at", "id")
    )
    for message in qs:
        html = ""
        if message.body_html:
            # Received HTML is hostile: only sanitised markup reaches the page, and no
            # images (remote ones are tracking pixels that would report the reading).
            html = mark_safe(
                nh3.clean(
                    message.body_html,
                    tags=SAFE_MAIL_TAGS,
                    url_schemes={"http", "https", "mailto"},
                )
            )
        rows.append({"message": message, "html": html})
    return rows


def _case_context(request: HttpRequest, case: Case, **extra) -> dict:
    now = timezone.now()
    clocks = queries.clocks(case, now=now)
    return {
        "nav": "service",
        "case": case,
        "clocks": [
            {"clock": c, "left": queries.format_duration(c.remaining_seconds)} for c in clocks
        ],
        "conversation": _conversation(request.user, case),
        "transitions": sorted(services.ALLOWED_TRANSITIONS[case.status]),
        "status_labels": dict(Status.choices),
        "can_change": access.can_change(request.user, case),
        "can_delete": access.can_delete(request.user, case),
        # The reply box keeps the kind last used, so a second internal note is not e-mailed.
        "message_form": extra.pop("message_form", None)
        or MessageForm(initial={"kind": request.session.get(REPLY_KIND_KEY, "reply")}),
        "assign_form": AssignForm(initial={"assignee": case.assignee}),
        "breaches": case.breaches.all(),
        "history": case.status_changes.select_related("actor"),
        "csat_url": (
            reverse("service:csat_public", args=[services.csat_token(case)])
            if case.status in (Status.RESOLVED, Status.CLOSED)
            else ""
        ),
        "csat": getattr(case, "csat", None) if hasattr(case, "csat") else None,
        **extra,
    }


@staff_view
def case_detail(request: HttpRequest, public_id) -> HttpResponse:
    case = access.get_case(request.user, public_id)
    return render(request, "service/case_detail.html", _case_context(request, case))


REPLY_KIND_KEY = "service.reply_kind"


@staff_view
@require_POST
def case_message(request: HttpRequest, public_id) -> HttpResponse:
    case = access.get_case_for_change(request.user, public_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.add_message(
                actor=request.user,
                case=case,
                kind=form.cleaned_data["kind"],
                body=form.cleaned_data["body"],
            )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            request.session[REPLY_KIND_KEY] = form.cleaned_data["kind"]
            label = "Reply sent." if form.cleaned_data["kind"] == "reply" else "Note added."
            messages.success(request, label)
            return redirect("service:case", public_id=case.public_id)
    case = access.get_case(request.user, public_id)
    return render(
        request,
        "service/case_detail.html",
        _case_context(request, case, message_form=form),
        status=422,
    )


@staff_view
@require_POST
def case_transition(request: HttpRequest, public_id) -> HttpResponse:
    case = access.get_case_for_change(request.user, public_id)
    try:
        case = services.change_status(
            actor=request.user, case=case, status=request.POST.get("status", "")
        )
    except ValidationFailed as exc:
        messages.error(request, exc.errors[0].message if exc.errors else exc.message)
    else:
        messages.success(request, f"Status: {case.get_status_display()}.")
    return redirect("service:case", public_id=case.public_id)


@staff_view
@require_POST
def case_assign(request: HttpRequest, public_id) -> HttpResponse:
    case = access.get_case_for_change(request.user, public_id)
    form = AssignForm(request.POST)
    if form.is_valid():
        try:
            services.assign_case(
                actor=request.user, case=case, assignee=form.cleaned_data["assignee"]
            )
        except ValidationFailed as exc:
            messages.error(request, exc.errors[0].message if exc.errors else exc.message)
        else:
            messages.success(request, "Assignment saved.")
    else:
        messages.error(request, "Pick an agent from the list.")
    return redirect("service:case", public_id=case.public_id)


@staff_view
@require_POST
def case_delete(request: HttpRequest, public_id) -> HttpResponse:
    """Delete a case into the trash (the API's check); the queue says so and offers Undo."""
    case = access.get_case_for_delete(request.user, public_id)
    what = f"Case #{case.number} “{case.subject}”"
    item = services.delete_case(actor=request.user, case=case)
    undo_message(request, item, what)
    url = reverse("service:list")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@staff_view
def attachment_download(request: HttpRequest, public_id) -> HttpResponse:
    attachment = (
        Attachment.objects.select_related("message__case").filter(public_id=public_id).first()
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    case = access.get_case(request.user, attachment.message.case.public_id)
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
        headers={"X-Case": case.token},
    )


# ---------------------------------------------------------------- upload, reports


@staff_view
@require_http_methods(["GET", "POST"])
def upload_email(request: HttpRequest) -> HttpResponse:
    access.require_writer(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = inbound.ingest_email(
                raw=upload.read(inbound.MAX_RAW_BYTES + 1),
                source="upload",
                actor=request.user,
                queue=form.cleaned_data["queue"],
            )
        except ValidationFailed as exc:
            form.add_error("file", exc.errors[0].message if exc.errors else exc.message)
        else:
            labels = {
                "created": "A new case was created from the message.",
                "threaded": "The message was added to an existing case.",
                "duplicate": "This message was already received.",
                "auto_reply": "Ignored: the message is an automatic reply.",
                "bounce": "Ignored: the message is a delivery failure notice.",
            }
            messages.info(request, labels.get(result.outcome, result.outcome))
            if (
                result.case is not None
                and access.scope_cases(
                    request.user, Case.objects.filter(pk=result.case.pk)
                ).exists()
            ):
                return redirect("service:case", public_id=result.case.public_id)
            return redirect("service:upload")
    status = 422 if request.method == "POST" else 200
    return render(request, "service/upload.html", {"nav": "service", "form": form}, status=status)


@staff_view
def breach_report(request: HttpRequest) -> HttpResponse:
    cases = access.scope_cases(request.user)
    report = queries.breach_report(cases)
    return render(
        request,
        "service/breaches.html",
        {
            "nav": "service",
            "per_queue": report["per_queue"],
            "per_agent": report["per_agent"],
            "breaches": report["breaches"][:200],
            "breached_open": queries.attach_shared(
                list(
                    queries.list_queryset(
                        cases.filter(breached=True, status__in=("new", "open", "pending_customer"))
                    ).order_by("queue__name", "next_due_at")[:200]
                )
            ),
        },
    )


@staff_view
def csat_report(request: HttpRequest) -> HttpResponse:
    cases = access.scope_cases(request.user)
    return render(
        request,
        "service/csat_results.html",
        {
            "nav": "service",
            "by_agent": queries.csat_results(cases, by="agent"),
            "by_queue": queries.csat_results(cases, by="queue"),
            # Deflection counts every customer's portal visits: admins and managers only.
            "deflection": queries.deflection_report() if request.user.sees_everything else None,
        },
    )


# ---------------------------------------------------------------- public CSAT page


@require_http_methods(["GET", "POST"])
def csat_public(request: HttpRequest, token: str) -> HttpResponse:
    """The requester's rating page: no login; the signed token names the case."""
    try:
        case = services.case_for_csat_token(token)
    except NotFound as exc:
        return render(request, "service/csat_public.html", {"error": exc.message}, status=404)
    done = hasattr(case, "csat")
    form = CsatForm(request.POST or None)
    status = 200
    if request.method == "POST" and not done:
        if form.is_valid():
            try:
                with audit_channel("web"):
                    services.submit_csat(
                        token=token,
                        rating=form.cleaned_data["rating"],
                        comment=form.cleaned_data["comment"],
                    )
            except ValidationFailed as exc:
                apply_errors(form, exc)
                status = 422
            except Exception as exc:  # Conflict: not resolved (anymore) or already rated
                from kith.core.errors import KithError

                if not isinstance(exc, KithError):
                    raise
                form.add_error(None, exc.message)
                status = exc.status
            else:
                done = True
        else:
            status = 422
    return render(
        request,
        "service/csat_public.html",
        # Only what the customer may see: the case's number and subject, never notes.
        {"case_token": case.token, "subject": case.subject, "form": form, "done": done},
        status=status,
    )


PANEL_CASES = 5


def party_panel(request: HttpRequest, party: Party) -> str | None:
    """Cases a person raised, or an organisation's cases, for their page."""
    from django.db.models import Q

    user = request.user
    if not getattr(user, "is_staff_user", False):
        return None
    link = Q(requester=party) if party.kind == Party.Kind.PERSON else Q(organization=party)
    cases = list(
        access.scope_cases(user)
        .filter(link)
        .select_related("queue", "assignee")
        .order_by("-created_at", "-id")[: PANEL_CASES + 1]
    )
    if not cases:
        return None
    list_url = reverse("service:list") + "?status=all"
    if party.kind == Party.Kind.PERSON:
        list_url += f"&requester={party.public_id}"
    return render(
        request,
        "service/_party_panel.html",
        {"cases": cases[:PANEL_CASES], "more": len(cases) > PANEL_CASES, "list_url": list_url},
    ).content.decode()


# ---------------------------------------------------------------- service settings
#
# Queues, business-hour calendars and SLA policies. Every staff user may look (agents
# and viewers read-only); only admins and managers reach the forms (403 otherwise).
# Each form posts normally or through htmx (hx-select swaps the form back in on 422).


def _settings_saved(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    url = reverse("service:settings")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _settings_form(
    request: HttpRequest, form, *, title: str, kind: str, obj=None, template: str = ""
) -> HttpResponse:
    return render(
        request,
        template or "service/settings_form.html",
        {"nav": "service", "form": form, "title": title, "kind": kind, "obj": obj},
        status=422 if request.method == "POST" else 200,
    )


@staff_view
def settings_page(request: HttpRequest) -> HttpResponse:
    """Queues, calendars and SLA policies on one page; edit links for managers."""
    return render(
        request,
        "service/settings.html",
        {
            "nav": "service",
            # Agents by name: without an order PostgreSQL lists them as it finds them.
            "queues": Queue.objects.prefetch_related(
                Prefetch("agents", queryset=User.objects.order_by("username"))
            ),
            "calendars": BusinessCalendar.objects.prefetch_related("holidays").order_by("name"),
            "policies": SlaPolicy.objects.select_related("organization", "calendar").order_by(
                "priority", "name"
            ),
            "weekdays": [(str(day), label) for day, label in WEEKDAYS],
            "can_manage": request.user.sees_everything,
            # Senders and subjects of mail about any case: for managers and admins only.
            "inbound": (
                InboundMail.objects.select_related("case").order_by("-created_at", "-id")[:50]
                if request.user.sees_everything
                else None
            ),
        },
    )


def _get_or_404(model, public_id, label: str):
    found = model.objects.filter(public_id=public_id).first()
    if found is None:
        raise NotFound(f"No such {label}.")
    return found


@staff_view
@require_http_methods(["GET", "POST"])
def queue_form(request: HttpRequest, public_id=None) -> HttpResponse:
    access.require_manager(request.user)
    queue = _get_or_404(Queue, public_id, "queue") if public_id else None
    initial = {}
    if queue is not None:
        initial = {
            "name": queue.name,
            "email_address": queue.email_address,
            "description": queue.description,
            "assignment_rule": queue.assignment_rule,
            "agents": list(queue.agents.all()),
            "is_default": queue.is_default,
        }
    form = QueueForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = {k: form.cleaned_data[k] for k in QueueForm.base_fields}
        fields["agents"] = list(fields["agents"])
        try:
            if queue is None:
                services.create_queue(actor=request.user, **fields)
            else:
                services.update_queue(actor=request.user, queue=queue, changes=fields)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            return _settings_saved(request, f"Queue {fields['name']} saved.")
    title = f"Edit queue {queue.name}" if queue else "New queue"
    return _settings_form(request, form, title=title, kind="queue", obj=queue)


@staff_view
@require_http_methods(["GET", "POST"])
def calendar_form(request: HttpRequest, public_id=None) -> HttpResponse:
    access.require_manager(request.user)
    cal = _get_or_404(BusinessCalendar, public_id, "calendar") if public_id else None
    initial: dict = {"timezone": "UTC"}
    hours: dict = {}
    if cal is not None:
        hours = cal.weekly_hours or {}
        initial = {"name": cal.name, "timezone": cal.timezone}
        for day, spans in hours.items():
            if spans:
                initial[f"open_{day}"] = spans[0][0]
                initial[f"close_{day}"] = spans[0][1]
    form = CalendarForm(
        request.POST or None,
        initial=initial,
        holidays=cal.holidays.all() if cal else (),
        existing_hours=hours,
    )
    if request.method == "POST" and form.is_valid():
        fields = {
            "name": form.cleaned_data["name"],
            "timezone": form.cleaned_data["timezone"],
            "weekly_hours": form.cleaned_data["weekly_hours"],
            "holidays": form.cleaned_data["holidays"],
        }
        try:
            if cal is None:
                services.create_calendar(actor=request.user, **fields)
            else:
                services.update_calendar(actor=request.user, calendar=cal, **fields)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            return _settings_saved(request, f"Calendar {fields['name']} saved.")
    title = f"Edit calendar {cal.name}" if cal else "New calendar"
    return _settings_form(
        request,
        form,
        title=title,
        kind="calendar",
        obj=cal,
        template="service/settings_calendar_form.html",
    )


@staff_view
@require_http_methods(["GET", "POST"])
def sla_policy_form(request: HttpRequest, public_id=None) -> HttpResponse:
    access.require_manager(request.user)
    policy = _get_or_404(SlaPolicy, public_id, "SLA policy") if public_id else None
    initial = {}
    if policy is not None:
        initial = {
            "name": policy.name,
            "priority": policy.priority,
            "organization": policy.organization,
            "first_response_minutes": policy.first_response_minutes,
            "resolution_minutes": policy.resolution_minutes,
            "calendar": policy.calendar,
            "active": policy.active,
        }
    orgs = people_access.staff_scope(request.user).filter(kind=Party.Kind.ORGANIZATION)
    form = SlaPolicyForm(
        request.POST or None, initial=initial, organizations=orgs, editing=policy is not None
    )
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        try:
            if policy is None:
                services.create_sla_policy(actor=request.user, **fields)
            else:
                services.update_sla_policy(actor=request.user, policy=policy, changes=fields)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            return _settings_saved(request, f"SLA policy {fields['name']} saved.")
    title = f"Edit SLA policy {policy.name}" if policy else "New SLA policy"
    return _settings_form(request, form, title=title, kind="policy", obj=policy)
