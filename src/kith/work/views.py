"""Web UI for work: My day, activities, meetings, .ics import, calendar settings, the feed.

Thin, like every view here: parse with a form, resolve access, call a service or a
query, render. Pages need a staff login (portal users get 404) and show times in the
user's zone. The one exception is the calendar feed: calendar apps cannot log in, so
it is opened by its unguessable token instead.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.accounts.models import User
from kith.core import timezones
from kith.core.errors import Conflict, NotFound, ValidationFailed
from kith.people import access as people_access
from kith.people.models import Party
from kith.web.decorators import staff_view
from kith.web.trash import undo_message
from kith.work import access, calendar, queries, services
from kith.work.forms import ActivityForm, CompleteForm, IcsUploadForm, MeetingForm, apply_errors
from kith.work.models import Activity, ActivityType, Meeting

LIST_LIMIT = 100


def _types():
    return ActivityType.objects.filter(active=True)


def _staff_users():
    return User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("username")


def _user_by_name(name: str) -> User | None:
    return _staff_users().filter(username=name).first() if name else None


def _party_url(party: Party) -> str:
    name = "people:person" if party.kind == Party.Kind.PERSON else "people:organization"
    return reverse(name, args=[party.public_id])


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful form post: a redirect, or for htmx a full-page navigation."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _rows(activities, today):
    return [{"a": a, "status": queries.status_of(a, today)} for a in activities]


# ---------------------------------------------------------------- My day


@staff_view
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    day = queries.my_day(request.user)
    context = {
        "nav": "work",
        "day": day,
        "sections": [
            (key, title, _rows(rows, day.today), day.counts[key])
            for key, title, rows in (
                ("overdue", "Overdue", day.overdue),
                ("today", "Today", day.due_today),
                ("upcoming", "Next 7 days", day.upcoming),
            )
        ],
        "can_write": request.user.can_write,
    }
    return render(request, "work/my_day.html", context)


# ---------------------------------------------------------------- activities


@staff_view
@require_GET
def activity_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = queries.today_for(user)
    params = request.GET
    filters = queries.ActivityFilters(
        status=params.get("status", "")
        if params.get("status") in (*queries.STATUSES, "open")
        else "",
        type_slug=params.get("type", ""),
    )
    errors = []
    assignee_name = params.get("assignee", "")
    if assignee_name == "me":
        filters.assignee_id = user.pk
    elif assignee_name:
        found = _user_by_name(assignee_name)
        if found is None:
            errors.append("No such user.")
        else:
            filters.assignee_id = found.pk
    party = None
    if params.get("party"):
        try:
            party = access.get_party_ref(user, params["party"])
            filters.party_id = party.pk
        except ValidationFailed:
            errors.append("No such person or organisation.")
    qs = queries.apply_filters(access.scope_activities(user), filters, today=today)
    activities = list(
        queries.with_list_data(qs).order_by("done_at", "deadline", "deadline_time", "id")[
            :LIST_LIMIT
        ]
    )
    # Open ones first by deadline (no deadline last), then the done ones, latest first.
    activities.sort(
        key=lambda a: (
            a.done_at is not None,
            a.deadline is None,
            a.deadline or dt.date.min,
            -(a.done_at.timestamp() if a.done_at else 0),
            a.id,
        )
    )
    new_url = reverse("work:activity_new")
    if party is not None:
        new_url += "?" + urlencode({"party": party.public_id})
    context = {
        "nav": "work",
        "rows": _rows(activities, today),
        "types": _types(),
        "users": _staff_users(),
        "filters": {
            "status": filters.status,
            "type": filters.type_slug,
            "assignee": assignee_name,
            "party": params.get("party", ""),
        },
        "party": party,
        "party_url": _party_url(party) if party else "",
        "errors": errors,
        "new_url": new_url,
        "can_write": user.can_write,
        "limit": LIST_LIMIT,
    }
    return render(request, "work/activity_list.html", context)


def _activity_form_page(request, form, *, activity=None, party=None, status=200) -> HttpResponse:
    context = {
        "nav": "work",
        "form": form,
        "activity": activity,
        "party": party,
        "party_url": _party_url(party) if party else "",
        "creating": activity is None,
        "next": _safe_next(request, ""),
    }
    return render(request, "work/activity_form.html", context, status=status)


@staff_view
@require_http_methods(["GET", "POST"])
def activity_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require_writer(user)
    types, users = _types(), _staff_users()
    source = request.POST if request.method == "POST" else request.GET
    party = None
    if source.get("party"):
        try:
            party = access.get_party_ref(user, source["party"])
        except ValidationFailed as exc:
            raise NotFound("No such person or organisation.") from exc
    if request.method == "GET":
        initial = {"party": party.public_id if party else None, "type": source.get("type", "call")}
        if source.get("deadline"):
            initial["deadline"] = source["deadline"]
        form = ActivityForm(initial=initial, types=types, users=users)
        return _activity_form_page(request, form, party=party)
    form = ActivityForm(request.POST, types=types, users=users)
    if form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.create_activity(
                actor=user,
                type=access.get_activity_type(user, data["type"]),
                summary=data["summary"],
                note=data["note"],
                record=party,
                assignee=_user_by_name(data["assignee"]),
                deadline=data["deadline"],
                deadline_time=data["deadline_time"],
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            messages.success(request, "Activity planned.")
            return _go(
                request, _safe_next(request, reverse("work:activity", args=[activity.public_id]))
            )
    return _activity_form_page(request, form, party=party, status=422)


@staff_view
@require_http_methods(["GET", "POST"])
def activity_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = request.user
    activity = access.get_activity_for_change(user, public_id)
    types, users = _types(), _staff_users()
    if request.method == "GET":
        form = ActivityForm(
            initial={
                "type": activity.type.slug,
                "summary": activity.summary,
                "note": activity.note,
                "deadline": activity.deadline,
                "deadline_time": activity.deadline_time,
                "assignee": activity.assignee.username if activity.assignee_id else "",
            },
            types=types,
            users=users,
        )
        return _activity_form_page(request, form, activity=activity, party=activity.party)
    form = ActivityForm(request.POST, types=types, users=users)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.update_activity(
                actor=user,
                activity=activity,
                type=access.get_activity_type(user, data["type"]),
                summary=data["summary"],
                note=data["note"],
                assignee=_user_by_name(data["assignee"]) or user,
                deadline=data["deadline"],
                deadline_time=data["deadline_time"],
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            messages.success(request, "Activity saved.")
            return _go(request, reverse("work:activity", args=[activity.public_id]))
    return _activity_form_page(request, form, activity=activity, party=activity.party, status=422)


def _chain(activity: Activity) -> list[Activity]:
    """The activities before this one and those planned after it (bounded walk)."""
    before = []
    current = activity.previous
    while current is not None and len(before) < 20:
        before.append(current)
        current = current.previous
    return list(reversed(before))


@staff_view
@require_POST
def activity_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    activity = access.get_activity_for_change(request.user, public_id)
    item = services.delete_activity(actor=request.user, activity=activity)
    undo_message(request, item, f"Activity “{activity.summary}”")
    return redirect("work:activities")


@staff_view
@require_GET
def activity_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = request.user
    activity = access.get_activity(user, public_id)
    today = queries.today_for(user)
    followups = list(access.scope_activities(user, activity.followups.all()).select_related("type"))
    context = {
        "nav": "work",
        "a": activity,
        "status": queries.status_of(activity, today),
        "party_url": _party_url(activity.party) if activity.party_id else "",
        "before": [
            a for a in _chain(activity) if access.scope_activities(user).filter(pk=a.pk).exists()
        ],
        "followups": followups,
        "complete_form": CompleteForm(types=_types()),
        "can_write": user.can_write,
    }
    return render(request, "work/activity_detail.html", context)


@staff_view
@require_POST
def activity_complete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Quick complete (htmx swaps the row) or complete with an outcome and a next step."""
    user = request.user
    activity = access.get_activity_for_change(user, public_id)
    form = CompleteForm(request.POST, types=_types())
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        follow = None
        if data["next_type"]:
            follow = services.NextActivity(
                type=access.get_activity_type(user, data["next_type"], field="next_type"),
                summary=data["next_summary"],
                deadline=data["next_deadline"],
            )
        try:
            services.complete_activity(
                actor=user, activity=activity, outcome=data["outcome"], next=follow
            )
        except Conflict as exc:
            error = exc.message
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, rename={"next.summary": "next_summary"})
            error = "; ".join(e.message for e in exc.errors)
    else:
        error = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    if request.htmx and request.POST.get("quick"):
        activity.refresh_from_db()
        today = queries.today_for(user)
        return render(
            request,
            "work/_activity_row.html",
            {
                "row": {"a": activity, "status": queries.status_of(activity, today)},
                "error": error,
                "can_write": user.can_write,
                "just_done": not error,
            },
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Done. It is on the timeline.")
    return redirect(_safe_next(request, reverse("work:activity", args=[activity.public_id])))


# ---------------------------------------------------------------- meetings


@staff_view
@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    past = request.GET.get("when") == "past"
    now = timezone.now()
    qs = access.scope_meetings(user)
    qs = (
        qs.filter(end__lt=now).order_by("-start", "-id")
        if past
        else qs.filter(end__gte=now).order_by("start", "id")
    )
    meetings = list(
        qs.select_related("organizer").prefetch_related("attendees__party", "attendees__user")[
            :LIST_LIMIT
        ]
    )
    return render(
        request,
        "work/meeting_list.html",
        {
            "nav": "work",
            "meetings": [{"m": m, **_wall_clock(m)} for m in meetings],
            "past": past,
            "can_write": user.can_write,
        },
    )


def _naive_in(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``moment`` as the wall clock reads in ``zone``, without a zone.

    Naive on purpose: templates convert aware datetimes to the server's current zone
    (UTC), which showed a 15:00 Europe/Paris meeting as "14:00 (Europe/Paris)".
    """
    return moment.astimezone(zone).replace(tzinfo=None)


def _wall_clock(meeting: Meeting) -> dict[str, dt.datetime]:
    """The meeting's start and end in its own time zone, for display next to its name."""
    zone = timezones.zone(meeting.timezone)
    return {
        "local_start": _naive_in(meeting.start, zone),
        "local_end": _naive_in(meeting.end, zone),
    }


def _people_options(user, selected: list[Party]) -> list[Party]:
    """The attendee picker's choices: only those chosen; the type-ahead finds the rest."""
    return list(selected)


def _meeting_page(request, form, *, meeting=None, status=200) -> HttpResponse:
    return render(
        request,
        "work/meeting_form.html",
        {
            "nav": "work",
            "form": form,
            "meeting": meeting,
            "creating": meeting is None,
            "timezones": timezones.choices(),
        },
        status=status,
    )


def _meeting_form(request, meeting: Meeting | None) -> HttpResponse:
    user = request.user
    access.require_writer(user)
    users = _staff_users()
    if request.method == "GET":
        selected: list[Party] = []
        if meeting is not None:
            # Only attendees the user may see are offered (and named) in the form.
            selected, _hidden = access.attending_parties(user, meeting)
            zone = timezones.zone(meeting.timezone)
            initial = {
                "title": meeting.title,
                "start": meeting.start.astimezone(zone).replace(tzinfo=None),
                "end": meeting.end.astimezone(zone).replace(tzinfo=None),
                "timezone": meeting.timezone,
                "location": meeting.location,
                "url": meeting.url,
                "description": meeting.description,
                "attendees": [str(p.public_id) for p in selected],
                "attendee_users": [
                    a.user.username for a in meeting.attendees.select_related("user") if a.user_id
                ],
            }
        else:
            start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + dt.timedelta(
                hours=1
            )
            initial = {
                "start": start.replace(tzinfo=None),
                "end": (start + dt.timedelta(minutes=30)).replace(tzinfo=None),
                "timezone": user.timezone or "UTC",
            }
            if request.GET.get("party"):
                try:
                    party = access.get_party_ref(user, request.GET["party"])
                except ValidationFailed as exc:
                    raise NotFound("No such person or organisation.") from exc
                selected = [party]
                initial["attendees"] = [str(party.public_id)]
        form = MeetingForm(initial=initial, parties=_people_options(user, selected), users=users)
        return _meeting_page(request, form, meeting=meeting)
    chosen = []
    for pid in request.POST.getlist("attendees"):
        try:
            chosen.append(access.get_party_ref(user, pid, field="attendees"))
        except ValidationFailed:
            continue  # an invisible id is simply not offered back
    form = MeetingForm(request.POST, parties=_people_options(user, chosen), users=users)
    if form.is_valid():
        data = form.cleaned_data
        payload = services.MeetingInput(
            title=data["title"],
            start=data["start"],
            end=data["end"],
            timezone=data["timezone"].strip(),
            location=data["location"],
            url=data["url"],
            description=data["description"],
            # Attendees the user cannot see (nor pick) stay on the meeting.
            parties=chosen
            + (
                [p for p in access.attending_parties(user, meeting)[1] if p not in chosen]
                if meeting is not None
                else []
            ),
            users=[u for u in (_user_by_name(n) for n in data["attendee_users"]) if u],
            status=meeting.status if meeting else "confirmed",
        )
        try:
            if meeting is None:
                meeting = services.create_meeting(actor=user, data=payload)
            else:
                services.update_meeting(actor=user, meeting=meeting, data=payload)
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, rename={"attendee_users": "attendee_users"})
        else:
            messages.success(request, "Meeting saved.")
            return _go(request, reverse("work:meeting", args=[meeting.public_id]))
    return _meeting_page(request, form, meeting=meeting, status=422)


@staff_view
@require_http_methods(["GET", "POST"])
def meeting_new(request: HttpRequest) -> HttpResponse:
    return _meeting_form(request, None)


@staff_view
@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    meeting = access.get_meeting_for_change(request.user, public_id)
    return _meeting_form(request, meeting)


@staff_view
@require_POST
def meeting_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    meeting = access.get_meeting_for_change(request.user, public_id)
    item = services.delete_meeting(actor=request.user, meeting=meeting)
    undo_message(request, item, f"Meeting “{meeting.title}”")
    return redirect("work:meetings")


@staff_view
@require_GET
def meeting_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = request.user
    meeting = access.get_meeting(user, public_id)
    visible = set(
        people_access.staff_scope(user)
        .filter(pk__in=[a.party_id for a in meeting.attendees.all() if a.party_id])
        .values_list("pk", flat=True)
    )
    attendees = [
        {
            "a": a,
            "url": _party_url(a.party) if a.party_id and a.party_id in visible else "",
            "hidden": bool(a.party_id and a.party_id not in visible),
        }
        for a in meeting.attendees.select_related("party", "user")
    ]
    return render(
        request,
        "work/meeting_detail.html",
        {
            "nav": "work",
            "m": meeting,
            "attendees": attendees,
            **_wall_clock(meeting),
            "your_start": _naive_in(meeting.start, timezones.of_user(user)),
            "your_end": _naive_in(meeting.end, timezones.of_user(user)),
            "your_zone": user.timezone or "UTC",
            "can_write": user.can_write,
        },
    )


@staff_view
@require_http_methods(["GET", "POST"])
def meeting_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require_writer(user)
    report = None
    status = 200
    if request.method == "POST":
        form = IcsUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > calendar.MAX_IMPORT_BYTES:
                form.add_error("file", "The file is larger than 5 MB.")
            else:
                try:
                    report = calendar.import_ics(actor=user, content=upload.read())
                except ValidationFailed as exc:
                    apply_errors(form, exc.errors)
        if form.errors:
            status = 422
    else:
        form = IcsUploadForm()
    return render(
        request,
        "work/meeting_import.html",
        {"nav": "work", "form": form, "report": report},
        status=status,
    )


# ---------------------------------------------------------------- calendar


@staff_view
@require_http_methods(["GET", "POST"])
def calendar_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "regenerate":
            had_one = access.own_feed(user) is not None
            services.regenerate_feed(actor=user)
            messages.success(
                request,
                "Your calendar has a new private address; the old one no longer works."
                if had_one
                else "Your calendar address is ready. Add it to your calendar app.",
            )
        elif action == "revoke":
            services.revoke_feed(actor=user)
            messages.success(request, "Your calendar address was turned off.")
        return redirect("work:calendar")
    feed = access.own_feed(user)
    url = ""
    if feed is not None:
        url = request.build_absolute_uri(reverse("work:feed", args=[calendar.feed_token(feed)]))
    return render(
        request,
        "work/calendar.html",
        {
            "nav": "work",
            "feed": feed,
            "url": url,
            "webcal": url.replace("https://", "webcal://").replace("http://", "webcal://"),
        },
    )


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private iCalendar feed: no login, the token is the key. Unknown tokens are 404."""
    feed = calendar.feed_for_token(token)
    if feed is None:
        raise Http404("No such calendar.")
    body = calendar.cached_feed(feed)
    services.touch_feed(feed=feed)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kith.ics"'
    # Private: a shared cache must never hand one user's calendar to another.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


PANEL_ACTIVITIES = 5


def party_panel(request: HttpRequest, party: Party) -> str | None:
    """The open activities about ``party``, for its page (kith.people owns the page)."""
    user = request.user
    if not access._is_staff(user):
        return None
    today = queries.today_for(user)
    qs = queries.apply_filters(
        access.scope_activities(user),
        queries.ActivityFilters(status="open", party_id=party.pk),
        today=today,
    )
    activities = list(
        queries.with_list_data(qs).order_by("deadline", "deadline_time", "id")[
            : PANEL_ACTIVITIES + 1
        ]
    )
    if not activities and not user.can_write:
        return None
    query = urlencode({"party": party.public_id})
    return render(
        request,
        "work/_party_panel.html",
        {
            "rows": _rows(activities[:PANEL_ACTIVITIES], today),
            "more": len(activities) > PANEL_ACTIVITIES,
            "list_url": f"{reverse('work:activities')}?{query}",
            "new_url": f"{reverse('work:activity_new')}?{query}",
            "can_write": user.can_write,
        },
    ).content.decode()
