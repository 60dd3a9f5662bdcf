"""HTTP API for kith.work (thin: parse, check access, call a service or query, serialise).

Activities (list/filter, CRUD, complete with an optional follow-up), activity types,
meetings (CRUD, .ics import) and the caller's private calendar feed URL.
"""

import datetime as dt
import uuid
from typing import Any, Literal

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile

from kith.accounts.models import User
from kith.core import timezones
from kith.core.errors import NotFound, ValidationFailed
from kith.core.idempotency import idempotent
from kith.core.inputs import WallTime
from kith.core.pagination import clamp_limit, paginate
from kith.people import access as people_access
from kith.work import access, calendar, queries, services
from kith.work.models import Activity, ActivityType, Meeting

router = Router(tags=["work"])


# ---------------------------------------------------------------- schemas


class ActivityTypeIn(Schema):
    name: str = Field(..., max_length=80)
    slug: str = Field("", max_length=40)
    icon: str = Field("check", description=f"One of {', '.join(services.ICONS)}.")
    channel: str = Field("system", description="Timeline channel logged on completion.")
    direction: Literal["in", "out", "internal"] = "out"


class ActivityTypeOut(Schema):
    id: uuid.UUID
    slug: str
    name: str
    icon: str
    channel: str
    direction: str
    builtin: bool
    active: bool


class ActivityIn(Schema):
    type: str = Field(..., description="Activity type slug: call, meeting, email, todo, or custom.")
    summary: str = Field(..., max_length=300)
    note: str = Field("", max_length=20000)
    record_type: str | None = Field(None, description="app.model, e.g. people.party, sales.deal.")
    record_id: uuid.UUID | None = None
    party: uuid.UUID | None = Field(None, description="The person/organisation it concerns.")
    assignee: str | None = Field(None, description="Username (default: you).")
    deadline: dt.date | None = None
    deadline_time: WallTime | None = None
    timezone: str | None = Field(None, description="Zone of the deadline (default: assignee's).")


class ActivityPatch(Schema):
    type: str | None = None
    summary: str | None = Field(None, max_length=300)
    note: str | None = Field(None, max_length=20000)
    assignee: str | None = None
    deadline: dt.date | None = None
    deadline_time: WallTime | None = None
    timezone: str | None = None


class ActivityOut(Schema):
    id: uuid.UUID
    type: str
    type_name: str
    summary: str
    note: str
    status: Literal["overdue", "today", "upcoming", "done"]
    record_type: str | None
    record_id: uuid.UUID | None
    party: uuid.UUID | None
    party_name: str | None
    assignee: str | None
    deadline: dt.date | None
    deadline_time: WallTime | None
    timezone: str
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    done_by: str | None
    outcome: str
    previous: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


class NextIn(Schema):
    type: str
    summary: str = Field(..., max_length=300)
    note: str = Field("", max_length=20000)
    assignee: str | None = None
    deadline: dt.date | None = None
    deadline_time: WallTime | None = None


class CompleteIn(Schema):
    outcome: str = Field("", max_length=20000)
    done_at: dt.datetime | None = None
    next: NextIn | None = Field(None, description="A follow-up to schedule (chained activity).")


class CompleteOut(Schema):
    activity: ActivityOut
    next: ActivityOut | None


class ActivityListQuery(Schema):
    assignee: str = Field("", description='Username, or "me".')
    status: Literal["", "overdue", "today", "upcoming", "done", "open"] = ""
    record_type: str = ""
    record_id: uuid.UUID | None = None
    party: uuid.UUID | None = None
    type: str = ""
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    cursor: str | None = None
    limit: int | None = None


class AttendeeOut(Schema):
    party: uuid.UUID | None
    user: str | None
    name: str
    email: str
    response: str


class MeetingIn(Schema):
    title: str = Field(..., max_length=300)
    start: dt.datetime = Field(..., description="With an offset, or wall-clock time in `timezone`.")
    end: dt.datetime
    timezone: str = Field("UTC", description="IANA zone, e.g. Europe/Lisbon.")
    description: str = Field("", max_length=20000)
    location: str = Field("", max_length=300)
    url: str = Field("", max_length=500)
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"
    attendees: list[uuid.UUID] = Field([], description="Public ids of people/organisations.")
    attendee_users: list[str] = Field([], description="Usernames.")
    organizer: str | None = Field(None, description="Username (default: you).")
    record_type: str | None = None
    record_id: uuid.UUID | None = None


class MeetingPatch(Schema):
    title: str | None = Field(None, max_length=300)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    timezone: str | None = None
    description: str | None = Field(None, max_length=20000)
    location: str | None = Field(None, max_length=300)
    url: str | None = Field(None, max_length=500)
    status: Literal["confirmed", "tentative", "cancelled"] | None = None
    attendees: list[uuid.UUID] | None = None
    attendee_users: list[str] | None = None
    organizer: str | None = None


class MeetingOut(Schema):
    id: uuid.UUID
    uid: str
    title: str
    description: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    start_local: str = Field(..., description="Start as wall-clock time in the meeting's zone.")
    location: str
    url: str
    status: str
    organizer: str | None
    organizer_email: str
    attendees: list[AttendeeOut]
    sequence: int
    source: str
    created_at: dt.datetime
    updated_at: dt.datetime


class MeetingPage(Schema):
    items: list[MeetingOut]
    next_cursor: str | None


class MeetingListQuery(Schema):
    starts_after: dt.datetime | None = None
    starts_before: dt.datetime | None = None
    party: uuid.UUID | None = None
    user: str = Field("", description='Username, or "me": meetings they organise or attend.')
    cursor: str | None = None
    limit: int | None = None


class ImportIcsIn(Schema):
    content: str = Field(..., description="The .ics file's text.")
    file_name: str = Field("", max_length=255)


class ImportProblemOut(Schema):
    index: int = Field(..., description="1-based position of the VEVENT in the file.")
    uid: str
    summary: str
    message: str


class ImportIcsOut(Schema):
    created: int
    updated: int
    unchanged: int
    meetings: list[uuid.UUID]
    errors: list[ImportProblemOut]


class FeedOut(Schema):
    url: str = Field(..., description="Private: anyone with it can read your calendar.")
    created_at: dt.datetime
    updated_at: dt.datetime
    last_used_at: dt.datetime | None


# ---------------------------------------------------------------- helpers


def _user(username: str | None, field: str, me) -> User | None:
    if not username:
        return None
    if username == "me":
        return me
    found = User.objects.filter(username=username, kind=User.Kind.STAFF, is_active=True).first()
    if found is None:
        raise ValidationFailed.single(field, "No active staff user with that username.")
    return found


def _record_ids(activities: list[Activity]) -> dict[tuple[int, int], uuid.UUID]:
    """Public ids of the records activities point at, one query per record type."""
    wanted: dict[int, set[int]] = {}
    for a in activities:
        if a.record_type_id:
            wanted.setdefault(a.record_type_id, set()).add(a.record_id)
    found: dict[tuple[int, int], uuid.UUID] = {}
    for type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:
            continue
        for pk, public_id in model._default_manager.filter(pk__in=ids).values_list(
            "pk", "public_id"
        ):
            found[(type_id, pk)] = public_id
    return found


def activity_out(
    a: Activity, *, today: dt.date, records: dict[tuple[int, int], uuid.UUID] | None = None
) -> dict[str, Any]:
    if records is None:
        records = _record_ids([a])
    record_type = None
    if a.record_type_id:
        ct = ContentType.objects.get_for_id(a.record_type_id)
        record_type = f"{ct.app_label}.{ct.model}"
    return {
        "id": a.public_id,
        "type": a.type.slug,
        "type_name": a.type.name,
        "summary": a.summary,
        "note": a.note,
        "status": queries.status_of(a, today),
        "record_type": record_type,
        "record_id": records.get((a.record_type_id, a.record_id)) if a.record_type_id else None,
        "party": a.party.public_id if a.party_id else None,
        "party_name": a.party.display_name if a.party_id else None,
        "assignee": a.assignee.get_username() if a.assignee_id else None,
        "deadline": a.deadline,
        "deadline_time": a.deadline_time,
        "timezone": a.timezone,
        "due_at": a.due_at(),
        "done_at": a.done_at,
        "done_by": a.done_by.get_username() if a.done_by_id else None,
        "outcome": a.outcome,
        "previous": a.previous.public_id if a.previous_id else None,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def _fresh_activity(user, a: Activity) -> dict[str, Any]:
    a = queries.with_list_data(Activity.objects.filter(pk=a.pk)).get()
    return activity_out(a, today=queries.today_for(user))


def _dump(schema, value) -> dict:
    return schema.model_validate(value).model_dump(mode="json")


HIDDEN_ATTENDEE = "Someone you cannot see"


def _attendee_out(a, visible: set[int] | None) -> dict[str, Any]:
    if a.party_id and visible is not None and a.party_id not in visible:
        # Counted, never named: as on the web page (kith.work.access.attending_parties).
        return {
            "party": None,
            "user": None,
            "name": HIDDEN_ATTENDEE,
            "email": "",
            "response": a.response,
        }
    return {
        "party": a.party.public_id if a.party_id else None,
        "user": a.user.get_username() if a.user_id else None,
        "name": str(a),
        "email": a.email,
        "response": a.response,
    }


def _visible_attendees(user, meetings: list[Meeting]) -> set[int]:
    """The attending parties of ``meetings`` that ``user`` may see (one query a page)."""
    return people_access.visible_ids(
        user, [a.party_id for m in meetings for a in m.attendees.all()]
    )


def meeting_out(m: Meeting, user=None, visible: set[int] | None = None) -> dict[str, Any]:
    """``m`` as ``user`` may see it (attending parties they cannot see are not named);
    ``visible``: those ids, when the caller read them for a whole page."""
    zone = timezones.zone(m.timezone)
    attendees = list(m.attendees.all())
    if visible is None and user is not None:
        visible = _visible_attendees(user, [m])
    return {
        "id": m.public_id,
        "uid": m.uid,
        "title": m.title,
        "description": m.description,
        "start": m.start,
        "end": m.end,
        "timezone": m.timezone,
        "start_local": m.start.astimezone(zone).replace(tzinfo=None).isoformat(),
        "location": m.location,
        "url": m.url,
        "status": m.status,
        "organizer": m.organizer.get_username() if m.organizer_id else None,
        "organizer_email": m.organizer_email,
        "attendees": [_attendee_out(a, visible) for a in attendees],
        "sequence": m.sequence,
        "source": m.source,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def _meeting_qs():
    return Meeting.objects.select_related("organizer").prefetch_related(
        "attendees__party", "attendees__user"
    )


def _fresh_meeting(m: Meeting, user) -> dict[str, Any]:
    return meeting_out(_meeting_qs().get(pk=m.pk), user)


def _meeting_input(user, payload, current: Meeting | None = None) -> services.MeetingInput:
    sent = payload.model_dump(exclude_unset=True)

    def pick(name: str, default: Any) -> Any:
        value = sent.get(name)
        return default if value is None else value

    parties = users = None
    if "attendees" in sent and sent["attendees"] is not None:
        parties = [
            access.get_party_ref(user, pid, field="attendees")
            for pid in dict.fromkeys(sent["attendees"])
        ]
    if "attendee_users" in sent and sent["attendee_users"] is not None:
        users = [
            _user(name, "attendee_users", user) for name in dict.fromkeys(sent["attendee_users"])
        ]
    if current is not None:
        existing = list(current.attendees.select_related("party", "user"))
        if parties is None:
            parties = [a.party for a in existing if a.party_id]
        else:
            # Those the caller cannot see (nor name) stay on the meeting.
            parties += [p for p in access.attending_parties(user, current)[1] if p not in parties]
        if users is None:
            users = [a.user for a in existing if a.user_id]
    record = None
    if sent.get("record_type") or sent.get("record_id"):
        record = access.resolve_record(user, sent.get("record_type") or "", sent.get("record_id"))
    organizer = _user(sent.get("organizer"), "organizer", user)
    return services.MeetingInput(
        title=pick("title", current.title if current else ""),
        start=pick("start", current.start if current else None),
        end=pick("end", current.end if current else None),
        timezone=pick("timezone", current.timezone if current else "UTC"),
        description=pick("description", current.description if current else ""),
        location=pick("location", current.location if current else ""),
        url=pick("url", current.url if current else ""),
        status=pick("status", current.status if current else "confirmed"),
        parties=parties or [],
        users=users or [],
        organizer=organizer,
        record=record,
    )


def _feed_out(request: HttpRequest, feed) -> dict[str, Any]:
    path = reverse("work:feed", args=[calendar.feed_token(feed)])
    return {
        "url": request.build_absolute_uri(path),
        "created_at": feed.created_at,
        "updated_at": feed.updated_at,
        "last_used_at": feed.last_used_at,
    }


# ---------------------------------------------------------------- activity types


@router.get("/activity-types", response=list[ActivityTypeOut], url_name="list_activity_types")
def list_activity_types(request: HttpRequest):
    access.require_staff(request.user)
    return [
        {
            "id": t.public_id,
            "slug": t.slug,
            "name": t.name,
            "icon": t.icon,
            "channel": t.channel,
            "direction": t.direction,
            "builtin": t.builtin,
            "active": t.active,
        }
        for t in ActivityType.objects.all()
    ]


@router.post("/activity-types", response={201: ActivityTypeOut}, url_name="create_activity_type")
@idempotent
def create_activity_type(request: HttpRequest, payload: ActivityTypeIn):
    """Add a custom activity type (admins and managers)."""
    access.require_manager(request.user)
    t = services.create_activity_type(
        actor=request.user,
        name=payload.name,
        slug=payload.slug,
        icon=payload.icon,
        channel=payload.channel,
        direction=payload.direction,
    )
    body = {
        "id": t.public_id,
        "slug": t.slug,
        "name": t.name,
        "icon": t.icon,
        "channel": t.channel,
        "direction": t.direction,
        "builtin": t.builtin,
        "active": t.active,
    }
    return Status(201, _dump(ActivityTypeOut, body))


# ---------------------------------------------------------------- activities


@router.get("/activities", response=ActivityPage, url_name="list_activities")
def list_activities(request: HttpRequest, query: Query[ActivityListQuery]):
    """Activities you may see, newest first; status is derived in your time zone."""
    user = request.user
    access.require_staff(user)
    limit = clamp_limit(query.limit)
    filters = queries.ActivityFilters(status=query.status, type_slug=query.type)
    assignee = _user(query.assignee, "assignee", user)
    if assignee is not None:
        filters.assignee_id = assignee.pk
    if query.record_type or query.record_id:
        if not (query.record_type and query.record_id):
            raise ValidationFailed.single("record_id", "Give record_type and record_id together.")
        record = access.resolve_record(user, query.record_type, query.record_id)
        filters.record_type_id = ContentType.objects.get_for_model(record).pk
        filters.record_id = record.pk
    if query.party:
        filters.party_id = access.get_party_ref(user, query.party).pk
    filters.deadline_from = query.deadline_from
    filters.deadline_to = query.deadline_to
    today = queries.today_for(user)
    qs = queries.apply_filters(access.scope_activities(user), filters, today=today)
    page = paginate(
        queries.with_list_data(qs), order=("-created_at", "-id"), cursor=query.cursor, limit=limit
    )
    records = _record_ids(page.items)
    return {
        "items": [activity_out(a, today=today, records=records) for a in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post("/activities", response={201: ActivityOut}, url_name="create_activity")
@idempotent
def create_activity(request: HttpRequest, payload: ActivityIn):
    user = request.user
    access.require_writer(user)
    record = None
    if payload.record_type or payload.record_id:
        if not (payload.record_type and payload.record_id):
            raise ValidationFailed.single("record_id", "Give record_type and record_id together.")
        record = access.resolve_record(user, payload.record_type, payload.record_id)
    party = access.get_party_ref(user, payload.party) if payload.party else None
    activity = services.create_activity(
        actor=user,
        type=access.get_activity_type(user, payload.type),
        summary=payload.summary,
        note=payload.note,
        record=record,
        party=party,
        assignee=_user(payload.assignee, "assignee", user),
        deadline=payload.deadline,
        deadline_time=payload.deadline_time,
        timezone_name=payload.timezone,
    )
    return Status(201, _dump(ActivityOut, _fresh_activity(user, activity)))


@router.get("/activities/{public_id}", response=ActivityOut, url_name="get_activity")
def get_activity(request: HttpRequest, public_id: uuid.UUID):
    activity = access.get_activity(request.user, public_id)
    return activity_out(activity, today=queries.today_for(request.user))


@router.patch("/activities/{public_id}", response=ActivityOut, url_name="update_activity")
def update_activity(request: HttpRequest, public_id: uuid.UUID, payload: ActivityPatch):
    user = request.user
    activity = access.get_activity_for_change(user, public_id)
    sent = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for name in ("summary", "note"):
        if sent.get(name) is not None:
            changes[name] = sent[name]
    for name in ("deadline", "deadline_time"):
        if name in sent:  # an explicit null clears it
            changes[name] = sent[name]
    if sent.get("type"):
        changes["type"] = access.get_activity_type(user, sent["type"])
    if "assignee" in sent:
        changes["assignee"] = _user(sent["assignee"], "assignee", user)
    if sent.get("timezone"):
        changes["timezone_name"] = sent["timezone"]
    services.update_activity(actor=user, activity=activity, **changes)
    return _fresh_activity(user, activity)


@router.delete("/activities/{public_id}", response={204: None}, url_name="delete_activity")
def delete_activity(request: HttpRequest, public_id: uuid.UUID):
    activity = access.get_activity_for_change(request.user, public_id)
    services.delete_activity(actor=request.user, activity=activity)
    return Status(204, None)


@router.post("/activities/{public_id}/complete", response=CompleteOut, url_name="complete_activity")
@idempotent
def complete_activity(request: HttpRequest, public_id: uuid.UUID, payload: CompleteIn):
    """Mark done: logs an interaction on the party's timeline; ``next`` plans a follow-up."""
    user = request.user
    activity = access.get_activity_for_change(user, public_id)
    follow = None
    if payload.next is not None:
        follow = services.NextActivity(
            type=access.get_activity_type(user, payload.next.type, field="next.type"),
            summary=payload.next.summary,
            note=payload.next.note,
            assignee=_user(payload.next.assignee, "next.assignee", user),
            deadline=payload.next.deadline,
            deadline_time=payload.next.deadline_time,
        )
    activity, follow_up = services.complete_activity(
        actor=user, activity=activity, outcome=payload.outcome, done_at=payload.done_at, next=follow
    )
    body = {
        "activity": _fresh_activity(user, activity),
        "next": _fresh_activity(user, follow_up) if follow_up else None,
    }
    return Status(200, _dump(CompleteOut, body))


@router.post("/activities/{public_id}/reopen", response=ActivityOut, url_name="reopen_activity")
def reopen_activity(request: HttpRequest, public_id: uuid.UUID):
    activity = access.get_activity_for_change(request.user, public_id)
    services.reopen_activity(actor=request.user, activity=activity)
    return _fresh_activity(request.user, activity)


# ---------------------------------------------------------------- meetings


@router.get("/meetings", response=MeetingPage, url_name="list_meetings")
def list_meetings(request: HttpRequest, query: Query[MeetingListQuery]):
    """Meetings you may see, by start time."""
    user = request.user
    access.require_staff(user)
    limit = clamp_limit(query.limit)
    qs = access.scope_meetings(user)
    if query.starts_after:
        qs = qs.filter(start__gte=query.starts_after)
    if query.starts_before:
        qs = qs.filter(start__lt=query.starts_before)
    if query.party:
        party = access.get_party_ref(user, query.party)
        qs = qs.filter(attendees__party=party)
    who = _user(query.user, "user", user)
    if who is not None:
        qs = qs.filter(pk__in=queries.user_meetings(who).values("pk"))
    page = paginate(
        _meeting_qs().filter(pk__in=qs.values("pk")),
        order=("start", "id"),
        cursor=query.cursor,
        limit=limit,
    )
    visible = _visible_attendees(user, page.items)
    return {
        "items": [meeting_out(m, user, visible) for m in page.items],
        "next_cursor": page.next_cursor,
    }


@router.post("/meetings", response={201: MeetingOut}, url_name="create_meeting")
@idempotent
def create_meeting(request: HttpRequest, payload: MeetingIn):
    user = request.user
    access.require_writer(user)
    meeting = services.create_meeting(actor=user, data=_meeting_input(user, payload))
    return Status(201, _dump(MeetingOut, _fresh_meeting(meeting, user)))


@router.post("/meetings/import", response=ImportIcsOut, url_name="import_meetings")
@idempotent
def import_meetings(request: HttpRequest, payload: ImportIcsIn):
    """Import the VEVENTs of an .ics file as meetings; idempotent by UID.

    Attendees are matched to people you may see by normalised e-mail (and to users by
    e-mail); an event that cannot be read is reported in ``errors`` with its position.
    """
    user = request.user
    access.require_writer(user)
    report = calendar.import_ics(actor=user, content=payload.content)
    return Status(200, _dump(ImportIcsOut, _import_body(report)))


def _import_body(report: calendar.ImportReport) -> dict[str, Any]:
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "meetings": [m.public_id for m in report.meetings],
        "errors": [p.as_dict() for p in report.errors],
    }


@router.post("/meetings/import-file", response=ImportIcsOut, url_name="import_meetings_file")
@idempotent
def import_meetings_file(request: HttpRequest, file: File[UploadedFile]):
    """The same as ``/meetings/import`` for a multipart upload (field ``file``)."""
    user = request.user
    access.require_writer(user)
    if file.size > calendar.MAX_IMPORT_BYTES:
        raise ValidationFailed.single("file", "The file is larger than 5 MB.")
    return Status(
        200, _dump(ImportIcsOut, _import_body(calendar.import_ics(actor=user, content=file.read())))
    )


@router.get("/meetings/{public_id}", response=MeetingOut, url_name="get_meeting")
def get_meeting(request: HttpRequest, public_id: uuid.UUID):
    meeting = access.get_meeting(request.user, public_id)
    return _fresh_meeting(meeting, request.user)


@router.patch("/meetings/{public_id}", response=MeetingOut, url_name="update_meeting")
def update_meeting(request: HttpRequest, public_id: uuid.UUID, payload: MeetingPatch):
    user = request.user
    meeting = access.get_meeting_for_change(user, public_id)
    data = _meeting_input(user, payload, current=meeting)
    services.update_meeting(actor=user, meeting=meeting, data=data)
    return _fresh_meeting(meeting, request.user)


@router.delete("/meetings/{public_id}", response={204: None}, url_name="delete_meeting")
def delete_meeting(request: HttpRequest, public_id: uuid.UUID):
    meeting = access.get_meeting_for_change(request.user, public_id)
    services.delete_meeting(actor=request.user, meeting=meeting)
    return Status(204, None)


# ---------------------------------------------------------------- calendar feed


@router.get("/calendar-feeds/me", response=FeedOut, url_name="get_calendar_feed")
def get_calendar_feed(request: HttpRequest):
    """Your private iCalendar feed URL (404 until you create one)."""
    feed = access.own_feed(request.user)
    if feed is None:
        raise NotFound("You have no calendar feed yet; POST to create one.")
    return _feed_out(request, feed)


@router.post("/calendar-feeds/me", response={201: FeedOut}, url_name="regenerate_calendar_feed")
def regenerate_calendar_feed(request: HttpRequest):
    """Create your feed URL, or replace it: the old URL stops working at once."""
    access.require_staff(request.user)
    feed = services.regenerate_feed(actor=request.user)
    return Status(201, _dump(FeedOut, _feed_out(request, feed)))


@router.delete("/calendar-feeds/me", response={204: None}, url_name="revoke_calendar_feed")
def revoke_calendar_feed(request: HttpRequest):
    access.require_staff(request.user)
    if not services.revoke_feed(actor=request.user):
        raise NotFound("You have no calendar feed.")
    return Status(204, None)
