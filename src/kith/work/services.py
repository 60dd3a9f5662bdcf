"""Every write of kith.work: activity types, activities, meetings, calendar feeds.

Keyword-only typed functions, one transaction each, an audit entry and a domain event
(``activity.created``, ``activity.completed``, ``meeting.created``…). Callers (API, web
UI, the .ics importer, demo data) resolve access first and pass model objects in.

Completing an activity logs an Interaction on the timeline of the party it concerns;
a meeting logs one (channel ``meeting``) on each attending party's timeline. Both are
idempotent through the interaction's ``(source, external_id)``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from kith.accounts import assignment
from kith.core import audit, events, timezones, trash
from kith.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kith.core.models import TrashItem
from kith.interactions import services as interaction_services
from kith.interactions.models import Channel, Direction
from kith.people import access as people_access
from kith.people.models import Party
from kith.work.models import Activity, ActivityType, CalendarFeed, Meeting, MeetingAttendee

SOURCE = "kith.work"
ICONS = ("call", "meeting", "email", "check", "chat", "letter", "sms", "star", "bookmark", "web")
MAX_SUMMARY = 300
MAX_NOTE = 20000


class _Unset:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "UNSET"


UNSET: Any = _Unset()


def valid_zone(name: str) -> bool:
    """True when ``name`` is an IANA time zone this machine knows (e.g. Europe/Lisbon)."""
    return timezones.is_valid(name)


def _is_staff_user(user) -> bool:
    return bool(user is not None and getattr(user, "is_staff_user", False))


def _clean_text(
    value: str, name: str, errors: list[FieldError], *, required: bool, limit: int
) -> str:
    text = " ".join((value or "").split()) if limit <= MAX_SUMMARY else (value or "").strip()
    if required and not text:
        errors.append(FieldError(name, "This field is required."))
    elif len(text) > limit:
        errors.append(FieldError(name, f"At most {limit} characters."))
    return text


def _record_fields(record: models.Model | None) -> tuple[ContentType | None, int | None]:
    if record is None:
        return None, None
    return ContentType.objects.get_for_model(record), record.pk


def _party_id_of(activity: Activity) -> int | None:
    return activity.party_id


# ---------------------------------------------------------------- activity types


def create_activity_type(
    *,
    actor,
    name: str,
    slug: str = "",
    icon: str = "check",
    channel: str = Channel.SYSTEM,
    direction: str = Direction.OUTBOUND,
) -> ActivityType:
    """Add a custom activity type (managers and admins; access checks that)."""
    errors: list[FieldError] = []
    name = _clean_text(name, "name", errors, required=True, limit=80)
    slug = slugify(slug or name)[:40]
    if name and not slug:
        errors.append(FieldError("slug", "Give a slug of letters, digits and hyphens."))
    elif slug and ActivityType.objects.filter(slug=slug).exists():
        errors.append(FieldError("slug", "An activity type with this slug already exists."))
    if icon not in ICONS:
        errors.append(FieldError("icon", f"Must be one of: {', '.join(ICONS)}."))
    if channel not in Channel.values:
        errors.append(FieldError("channel", f"Must be one of: {', '.join(Channel.values)}."))
    if direction not in Direction.values:
        errors.append(FieldError("direction", f"Must be one of: {', '.join(Direction.values)}."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        kind = ActivityType.objects.create(
            slug=slug, name=name, icon=icon, channel=channel, direction=direction
        )
        audit.record(actor=actor, action="activity_type.created", obj=kind, changes={"name": name})
        events.emit("activity_type.created", obj=kind, actor=actor, data={"slug": slug})
    return kind


# ---------------------------------------------------------------- activities


@dataclass
class NextActivity:
    """The follow-up to schedule when completing an activity (chained activities)."""

    type: ActivityType
    summary: str
    deadline: dt.date | None = None
    deadline_time: dt.time | None = None
    assignee: Any = None  # default: the completed activity's assignee
    note: str = ""


def _check_assignee(
    assignee, errors: list[FieldError], name: str = "assignee", party: Party | None = None
) -> None:
    """The assignee must be able to do the work: a writer who can see the party it is about."""
    if assignee is None:
        return
    if not _is_staff_user(assignee) or not assignee.can_write:
        errors.append(FieldError(name, "Must be an active staff user who can change records."))
    elif (
        party is not None and not people_access.scope_parties(assignee).filter(pk=party.pk).exists()
    ):
        errors.append(FieldError(name, f"{assignee.get_username()} cannot see {party}."))


def _check_deadline(deadline, deadline_time, errors: list[FieldError], prefix: str = "") -> None:
    if deadline_time is not None and deadline is None:
        errors.append(FieldError(f"{prefix}deadline", "A deadline time needs a deadline date."))
    if deadline is not None and not dt.date(2000, 1, 1) <= deadline <= dt.date(2200, 12, 31):
        errors.append(FieldError(f"{prefix}deadline", "Must be a date between 2000 and 2200."))


def _activity_zone(assignee, actor, zone: str | None, errors: list[FieldError]) -> str:
    if zone:
        if not valid_zone(zone):
            errors.append(FieldError("timezone", "Not a time zone name such as Europe/Lisbon."))
            return "UTC"
        return zone
    for user in (assignee, actor):
        name = getattr(user, "timezone", "") or ""
        if valid_zone(name):
            return name
    return "UTC"


def _snapshot(activity: Activity) -> dict[str, Any]:
    return {
        "type": activity.type.slug,
        "summary": activity.summary,
        "note": activity.note,
        "assignee": activity.assignee.get_username() if activity.assignee_id else None,
        "deadline": activity.deadline,
        "deadline_time": activity.deadline_time.isoformat() if activity.deadline_time else None,
        "timezone": activity.timezone,
    }


def create_activity(
    *,
    actor,
    type: ActivityType,
    summary: str,
    note: str = "",
    record: models.Model | None = None,
    party: Party | None = None,
    assignee=None,
    deadline: dt.date | None = None,
    deadline_time: dt.time | None = None,
    timezone_name: str | None = None,
    previous: Activity | None = None,
) -> Activity:
    """Plan an activity, optionally on ``record`` and about ``party``.

    An activity on a person or organisation is about them: ``party`` defaults to the
    record and may not name another. ``assignee`` defaults to the actor.
    """
    errors: list[FieldError] = []
    summary = _clean_text(summary, "summary", errors, required=True, limit=MAX_SUMMARY)
    note = _clean_text(note, "note", errors, required=False, limit=MAX_NOTE)
    if isinstance(record, Party):
        if party is not None and party.pk != record.pk:
            errors.append(FieldError("party", "An activity on a person is about that person."))
        party = record
    if party is not None and party.status != Party.Status.ACTIVE:
        errors.append(FieldError("party", "That record was merged or erased."))
    if assignee is None and _is_staff_user(actor):
        assignee = actor
    _check_assignee(assignee, errors, party=party)
    _check_deadline(deadline, deadline_time, errors)
    if not type.active:
        errors.append(FieldError("type", "That activity type is no longer in use."))
    zone = _activity_zone(assignee, actor, timezone_name, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    record_type, record_id = _record_fields(record)
    with transaction.atomic():
        activity = Activity.objects.create(
            type=type,
            summary=summary,
            note=note,
            record_type=record_type,
            record_id=record_id,
            party=party,
            assignee=assignee,
            deadline=deadline,
            deadline_time=deadline_time,
            timezone=zone,
            previous=previous,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            actor=actor,
            action="activity.created",
            obj=activity,
            changes=_snapshot(activity),
            party_id=activity.party_id,
        )
        events.emit(
            "activity.created",
            obj=activity,
            actor=actor,
            data={
                "type": type.slug,
                "party": str(party.public_id) if party else None,
                "assignee": assignee.get_username() if assignee else None,
                "deadline": deadline,
                "previous": str(previous.public_id) if previous else None,
            },
        )
    return activity


def update_activity(
    *,
    actor,
    activity: Activity,
    type: ActivityType = UNSET,
    summary: str = UNSET,
    note: str = UNSET,
    assignee=UNSET,
    deadline: dt.date | None = UNSET,
    deadline_time: dt.time | None = UNSET,
    timezone_name: str = UNSET,
) -> Activity:
    """Change the given fields of an activity (a done one can still be annotated)."""
    with transaction.atomic():
        # Read-modify-write: start from the row as it is now, locked, so this save
        # cannot undo a completion (or another edit) that committed meanwhile.
        _lock_fresh(activity)
        return _update_activity_locked(
            actor=actor,
            activity=activity,
            type=type,
            summary=summary,
            note=note,
            assignee=assignee,
            deadline=deadline,
            deadline_time=deadline_time,
            timezone_name=timezone_name,
        )


def _lock_fresh(row: models.Model) -> None:
    """Reload ``row`` under its row lock; call inside the service's transaction."""
    try:
        row.refresh_from_db(from_queryset=type(row).objects.select_for_update())
    except type(row).DoesNotExist:
        raise NotFound(f"No such {row._meta.verbose_name}.") from None


def _update_activity_locked(
    *,
    actor,
    activity: Activity,
    type: ActivityType,
    summary: str,
    note: str,
    assignee,
    deadline: dt.date | None,
    deadline_time: dt.time | None,
    timezone_name: str,
) -> Activity:
    errors: list[FieldError] = []
    before = _snapshot(activity)
    if type is not UNSET:
        if not type.active and type.pk != activity.type_id:
            errors.append(FieldError("type", "That activity type is no longer in use."))
        activity.type = type
    if summary is not UNSET:
        activity.summary = _clean_text(summary, "summary", errors, required=True, limit=MAX_SUMMARY)
    if note is not UNSET:
        activity.note = _clean_text(note, "note", errors, required=False, limit=MAX_NOTE)
    if assignee is not UNSET:
        _check_assignee(assignee, errors, party=activity.party)
        activity.assignee = assignee
    if deadline is not UNSET:
        activity.deadline = deadline
        if deadline is None and deadline_time is UNSET:
            activity.deadline_time = None
    if deadline_time is not UNSET:
        activity.deadline_time = deadline_time
    _check_deadline(activity.deadline, activity.deadline_time, errors)
    if timezone_name is not UNSET:
        if not valid_zone(timezone_name):
            errors.append(FieldError("timezone", "Not a time zone name such as Europe/Lisbon."))
        else:
            activity.timezone = timezone_name
    if errors:
        raise ValidationFailed(errors=errors)
    changes = audit.diff(before, _snapshot(activity))
    if not changes:
        return activity
    activity.save()
    audit.record(
        actor=actor,
        action="activity.updated",
        obj=activity,
        changes=changes,
        party_id=activity.party_id,
    )
    events.emit("activity.updated", obj=activity, actor=actor, data={"changed": sorted(changes)})
    return activity


def _log_completion(actor, activity: Activity) -> None:
    """Put the completed activity on its party's timeline (once, whatever retries)."""
    party = activity.party
    if party is None or party.status != Party.Status.ACTIVE:
        return
    kind = activity.type
    channel = kind.channel if kind.channel in Channel.values else Channel.SYSTEM
    direction = kind.direction if kind.direction in Direction.values else Direction.INTERNAL
    interaction_services.log_interaction(
        actor=actor,
        party=party,
        channel=channel,
        direction=direction,
        kind="activity",
        summary=f"{kind.name}: {activity.summary}"[:MAX_SUMMARY],
        body=activity.outcome,
        occurred_at=activity.done_at,
        source=SOURCE,
        external_id=f"activity:{activity.public_id}",
        related=activity,
    )


def complete_activity(
    *,
    actor,
    activity: Activity,
    outcome: str = "",
    done_at: dt.datetime | None = None,
    next: NextActivity | None = None,
) -> tuple[Activity, Activity | None]:
    """Mark an activity done, log it on the timeline, and optionally plan the next one.

    Returns ``(activity, follow_up)``; ``follow_up`` is None unless ``next`` is given.
    Completing an activity twice is a conflict, not a second timeline entry.
    """
    if activity.done_at is not None:
        raise Conflict("This activity is already done.")
    errors: list[FieldError] = []
    outcome = _clean_text(outcome, "outcome", errors, required=False, limit=MAX_NOTE)
    now = timezone.now()
    if done_at is not None:
        if timezone.is_naive(done_at):
            errors.append(FieldError("done_at", "Must include a time zone."))
        elif done_at > now + dt.timedelta(minutes=5):
            errors.append(FieldError("done_at", "Cannot be in the future."))
    if next is not None:
        # Validate the follow-up now so a bad one leaves the activity open.
        _clean_text(next.summary, "next.summary", errors, required=True, limit=MAX_SUMMARY)
        _check_assignee(next.assignee, errors, "next.assignee", party=activity.party)
        _check_deadline(next.deadline, next.deadline_time, errors, prefix="next.")
        if not next.type.active:
            errors.append(FieldError("next.type", "That activity type is no longer in use."))
    if errors:
        raise ValidationFailed(errors=errors)
    follow_up = None
    with transaction.atomic():
        # Lock the row: two clicks on "Done" must not both log an interaction.
        locked = Activity.objects.select_for_update().get(pk=activity.pk)
        if locked.done_at is not None:
            raise Conflict("This activity is already done.")
        activity.done_at = done_at or now
        activity.done_by = actor if getattr(actor, "is_authenticated", False) else None
        activity.outcome = outcome
        activity.save(update_fields=["done_at", "done_by", "outcome", "updated_at"])
        audit.record(
            actor=actor,
            action="activity.completed",
            obj=activity,
            changes={"done_at": activity.done_at, "outcome": outcome},
            party_id=activity.party_id,
        )
        _log_completion(actor, activity)
        if next is not None:
            record = None
            if activity.record_type_id:
                record = activity.record_type.get_object_for_this_type(pk=activity.record_id)
            follow_up = create_activity(
                actor=actor,
                type=next.type,
                summary=next.summary,
                note=next.note,
                record=record,
                party=activity.party if not isinstance(record, Party) else None,
                assignee=next.assignee or activity.assignee,
                deadline=next.deadline,
                deadline_time=next.deadline_time,
                previous=activity,
            )
        events.emit(
            "activity.completed",
            obj=activity,
            actor=actor,
            data={
                "type": activity.type.slug,
                "party": str(activity.party.public_id) if activity.party_id else None,
                "next": str(follow_up.public_id) if follow_up else None,
            },
        )
    return activity, follow_up


def reopen_activity(*, actor, activity: Activity) -> Activity:
    """Undo "done" (the timeline entry stays: the timeline is append-only)."""
    with transaction.atomic():
        _lock_fresh(activity)
        if activity.done_at is None:
            raise Conflict("This activity is not done.")
        activity.done_at = None
        activity.done_by = None
        activity.save(update_fields=["done_at", "done_by", "updated_at"])
        audit.record(
            actor=actor, action="activity.reopened", obj=activity, party_id=activity.party_id
        )
        events.emit("activity.reopened", obj=activity, actor=actor)
    return activity


def delete_activity(*, actor, activity: Activity) -> TrashItem:
    """Delete ``activity`` into the trash."""
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="activity.deleted",
            obj=activity,
            changes=_snapshot(activity),
            party_id=activity.party_id,
        )
        events.emit("activity.deleted", obj=activity, actor=actor)
        item = trash.put(
            actor=actor,
            kind="activity",
            obj=activity,
            label=activity.summary,
            party_id=activity.party_id,
        )
        activity.delete()
    return item


# ---------------------------------------------------------------- meetings


@dataclass
class MeetingInput:
    """What a meeting is; naive start/end are wall-clock times in ``timezone``."""

    title: str
    start: dt.datetime | None
    end: dt.datetime | None
    timezone: str = "UTC"
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = Meeting.Status.CONFIRMED
    parties: list[Party] = field(default_factory=list)
    users: list[Any] = field(default_factory=list)
    organizer: Any = None
    record: models.Model | None = None


_url_validator = URLValidator(schemes=["http", "https"])


def _clean_meeting(data: MeetingInput, errors: list[FieldError]) -> dict[str, Any]:
    title = _clean_text(data.title, "title", errors, required=True, limit=MAX_SUMMARY)
    description = _clean_text(
        data.description, "description", errors, required=False, limit=MAX_NOTE
    )
    location = _clean_text(data.location, "location", errors, required=False, limit=300)
    url = (data.url or "").strip()
    if url:
        try:
            _url_validator(url)
        except DjangoValidationError:
            errors.append(FieldError("url", "Must be an http(s) address."))
        if len(url) > 500:
            errors.append(FieldError("url", "At most 500 characters."))
    zone_name = (data.timezone or "").strip() or "UTC"
    zone = None
    if valid_zone(zone_name):
        zone = timezones.zone(zone_name)
    else:
        errors.append(FieldError("timezone", "Not a time zone name such as Europe/Lisbon."))

    def aware(value, name):
        if value is None:
            errors.append(FieldError(name, "This field is required."))
            return None
        if timezone.is_naive(value):
            return value.replace(tzinfo=zone) if zone else None
        return value

    start = aware(data.start, "start")
    end = aware(data.end, "end")
    if start and end:
        if end <= start:
            errors.append(FieldError("end", "Must be after the start."))
        elif end - start > dt.timedelta(days=31):
            errors.append(FieldError("end", "A meeting lasts at most 31 days."))
    if data.status not in Meeting.Status.values:
        errors.append(FieldError("status", f"Must be one of: {', '.join(Meeting.Status.values)}."))
    for party in data.parties:
        if party.status != Party.Status.ACTIVE:
            errors.append(FieldError("attendees", f"{party} was merged or erased."))
    for user in data.users:
        if not _is_staff_user(user):
            errors.append(FieldError("attendee_users", f"{user} is not an active staff user."))
    if data.organizer is not None and not _is_staff_user(data.organizer):
        errors.append(FieldError("organizer", "Must be an active staff user."))
    return {
        "title": title,
        "description": description,
        "location": location,
        "url": url,
        "timezone": zone_name,
        "start": start.astimezone(dt.UTC) if start else None,
        "end": end.astimezone(dt.UTC) if end else None,
        "status": data.status,
    }


def _meeting_snapshot(meeting: Meeting) -> dict[str, Any]:
    return {
        "title": meeting.title,
        "description": meeting.description,
        "location": meeting.location,
        "url": meeting.url,
        "timezone": meeting.timezone,
        "start": meeting.start,
        "end": meeting.end,
        "status": meeting.status,
        "organizer": meeting.organizer.get_username() if meeting.organizer_id else None,
    }


def _log_meeting(actor, meeting: Meeting, parties) -> None:
    """A meeting is a touchpoint: one timeline entry per attending party, once each."""
    for party in parties:
        if party.status != Party.Status.ACTIVE:
            continue
        interaction_services.log_interaction(
            actor=actor,
            party=party,
            channel=Channel.MEETING,
            direction=Direction.OUTBOUND,
            kind="meeting",
            summary=f"Meeting: {meeting.title}"[:MAX_SUMMARY],
            body=meeting.location or meeting.url,
            occurred_at=meeting.start,
            source=SOURCE,
            external_id=f"meeting:{meeting.public_id}:{party.public_id}",
            related=meeting,
        )


def _set_attendees(
    meeting: Meeting, parties, users, extra: list[dict] | None = None
) -> list[Party]:
    """Make the attendee list exactly ``parties`` + ``users`` (+ unmatched e-mails); returns new parties."""
    existing = list(meeting.attendees.all())
    keep_party = {p.pk for p in parties}
    keep_user = {u.pk for u in users}
    had_party = {a.party_id for a in existing if a.party_id}
    had_user = {a.user_id for a in existing if a.user_id}
    drop = [
        a.pk
        for a in existing
        if (a.party_id and a.party_id not in keep_party)
        or (a.user_id and a.user_id not in keep_user)
        or (not a.party_id and not a.user_id and extra is not None)
    ]
    if drop:
        MeetingAttendee.objects.filter(pk__in=drop).delete()
    added = [p for p in dict.fromkeys(parties) if p.pk not in had_party]
    rows = [MeetingAttendee(meeting=meeting, party=p, name=p.display_name) for p in added]
    rows += [
        MeetingAttendee(meeting=meeting, user=u, name=u.get_full_name() or u.get_username())
        for u in dict.fromkeys(users)
        if u.pk not in had_user
    ]
    rows += [MeetingAttendee(meeting=meeting, **row) for row in extra or []]
    MeetingAttendee.objects.bulk_create(rows)
    return added


def _attendee_names(meeting: Meeting) -> list[str]:
    return [str(a) for a in meeting.attendees.all()]


def create_meeting(
    *,
    actor,
    data: MeetingInput,
    uid: str = "",
    source: str = "kith",
    sequence: int = 0,
    organizer_email: str = "",
    organizer_name: str = "",
    extra_attendees: list[dict] | None = None,
) -> Meeting:
    """Plan a meeting; attending parties get it on their timelines."""
    errors: list[FieldError] = []
    values = _clean_meeting(data, errors)
    if uid and Meeting.objects.filter(uid=uid).exists():
        errors.append(FieldError("uid", "A meeting with this UID already exists."))
    if errors:
        raise ValidationFailed(errors=errors)
    organizer = data.organizer
    if organizer is None and not organizer_email and _is_staff_user(actor):
        organizer = actor
    # Agents organise in their own name only (kith.accounts.assignment).
    assignment.check_organizer(actor, data.organizer)
    record_type, record_id = _record_fields(data.record)
    with transaction.atomic():
        meeting = Meeting(
            **values,
            organizer=organizer,
            organizer_email=organizer_email[:254],
            organizer_name=organizer_name[:200],
            record_type=record_type,
            record_id=record_id,
            source=source,
            sequence=sequence,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        meeting.uid = uid or f"{meeting.public_id}@kith"
        meeting.save()
        added = _set_attendees(meeting, data.parties, data.users, extra_attendees)
        audit.record(
            actor=actor,
            action="meeting.created",
            obj=meeting,
            changes={**_meeting_snapshot(meeting), "attendees": _attendee_names(meeting)},
        )
        _log_meeting(actor, meeting, added)
        events.emit(
            "meeting.created",
            obj=meeting,
            actor=actor,
            data={
                "start": meeting.start,
                "parties": [str(p.public_id) for p in data.parties],
                "source": source,
            },
        )
    return meeting


def update_meeting(
    *,
    actor,
    meeting: Meeting,
    data: MeetingInput,
    sequence: int | None = None,
    extra_attendees: list[dict] | None = None,
) -> Meeting:
    """Replace a meeting's details and attendees with ``data`` (new parties get a timeline entry)."""
    errors: list[FieldError] = []
    values = _clean_meeting(data, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    if data.organizer is not None and data.organizer.pk != meeting.organizer_id:
        assignment.check_organizer(actor, data.organizer)
    with transaction.atomic():
        # Locked and fresh: the SEQUENCE bump and the diff start from the stored row.
        _lock_fresh(meeting)
        before = {**_meeting_snapshot(meeting), "attendees": _attendee_names(meeting)}
        for name, value in values.items():
            setattr(meeting, name, value)
        if data.organizer is not None:
            meeting.organizer = data.organizer
        added = _set_attendees(meeting, data.parties, data.users, extra_attendees)
        after = {**_meeting_snapshot(meeting), "attendees": _attendee_names(meeting)}
        changes = audit.diff(before, after)
        if not changes:
            return meeting
        # Calendars replace an event only when its SEQUENCE grows.
        meeting.sequence = sequence if sequence is not None else meeting.sequence + 1
        meeting.save()
        audit.record(actor=actor, action="meeting.updated", obj=meeting, changes=changes)
        _log_meeting(actor, meeting, added)
        events.emit("meeting.updated", obj=meeting, actor=actor, data={"changed": sorted(changes)})
    return meeting


def delete_meeting(*, actor, meeting: Meeting) -> TrashItem:
    """Delete ``meeting`` (its attendees go with it) into the trash."""
    with transaction.atomic():
        audit.record(
            actor=actor, action="meeting.deleted", obj=meeting, changes=_meeting_snapshot(meeting)
        )
        events.emit("meeting.deleted", obj=meeting, actor=actor)
        item = trash.put(actor=actor, kind="meeting", obj=meeting, label=meeting.title)
        meeting.delete()
    return item


# ---------------------------------------------------------------- calendar feeds

_KEY_RE = re.compile(r"^[0-9a-f]{24}$")


def regenerate_feed(*, actor) -> CalendarFeed:
    """Give ``actor`` a new private feed URL; any previous URL stops working at once."""
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(user=actor).first()
        action = "calendar_feed.created" if feed is None else "calendar_feed.regenerated"
        if feed is None:
            feed = CalendarFeed(user=actor)
        feed.key = secrets.token_hex(12)
        feed.last_used_at = None
        feed.save()
        audit.record(actor=actor, action=action, obj=feed)
        events.emit(action, obj=feed, actor=actor)
    return feed


def revoke_feed(*, actor) -> bool:
    """Remove ``actor``'s feed URL; True when there was one."""
    with transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(user=actor).first()
        if feed is None:
            return False
        audit.record(actor=actor, action="calendar_feed.revoked", obj=feed)
        events.emit("calendar_feed.revoked", obj=feed, actor=actor)
        feed.delete()
    return True


def touch_feed(*, feed: CalendarFeed) -> None:
    """Note that a calendar fetched the feed (at most once an hour: clients poll often)."""
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > dt.timedelta(hours=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)


def valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key or ""))


# ---------------------------------------------------------------- trash


def _check_activity_restore(user, activity: Activity) -> None:
    """Who may delete an activity may restore it (the delete's check, on the restored row)."""
    from kith.work import access

    access.get_activity_for_change(user, activity.public_id)


def _check_meeting_restore(user, meeting: Meeting) -> None:
    from kith.work import access

    access.get_meeting_for_change(user, meeting.public_id)


def _after_work_restore(*, actor, obj: models.Model, item: TrashItem) -> None:
    """The record's feed says it was deleted and restored."""
    from kith.collab import services as collab_services

    noun = "Activity" if isinstance(obj, Activity) else "Meeting"
    collab_services.record_system_event(
        actor=actor,
        target=obj,
        event_name=f"{item.kind}.restored",
        line=f"{noun} deleted by {item.deleted_by_label} on {item.deleted_at:%Y-%m-%d %H:%M} UTC, "
        "restored from the trash",
    )


def _work_url(obj: models.Model) -> str:
    from django.urls import reverse

    name = "work:activity" if isinstance(obj, Activity) else "work:meeting"
    return reverse(name, kwargs={"public_id": obj.public_id})


trash.register(
    trash.Kind(
        name="activity",
        model=Activity,
        check_restore=_check_activity_restore,
        after_restore=_after_work_restore,
        url=_work_url,
    )
)
trash.register(
    trash.Kind(
        name="meeting",
        model=Meeting,
        check_restore=_check_meeting_restore,
        after_restore=_after_work_restore,
        url=_work_url,
    )
)
