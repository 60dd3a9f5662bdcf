"""Who may see or change activities, meetings and calendar feeds.

* Portal users (customers) get nothing here: not found, whatever they ask.
* Admins and managers see and change every activity and meeting.
* Agents and viewers see an activity when it concerns a person or organisation they
  may see (``kith.people.access``), or when they are its assignee or creator (a plain
  to-do, or one on a record of another app, whose own rules this app does not know).
  Meetings likewise: any attending party they may see, or they organise or attend it.
* Viewers change nothing (403); agents change what they see.

Invisible records are reported as not found (404), never as forbidden.
"""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet

from kith.core.errors import Forbidden, NotFound, ValidationFailed
from kith.core.records import owning_app_getter
from kith.people import access as people_access
from kith.people.models import Party
from kith.work.models import Activity, ActivityType, CalendarFeed, Meeting, MeetingAttendee

# Records of these apps are never the subject of an activity (logins, tokens, the log).
FORBIDDEN_RECORD_APPS = frozenset({"accounts", "auth", "core", "contenttypes", "sessions", "admin"})


def _parse_id(public_id, what: str = "record") -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound(f"No such {what}.") from exc


def _is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff_user", False))


def require_staff(user) -> None:
    """Portal users and anonymous callers find nothing here."""
    if not _is_staff(user):
        raise NotFound("Not found.")


def require_writer(user) -> None:
    require_staff(user)
    if not user.can_write:
        raise Forbidden("Your role can view activities and meetings but not change them.")


def require_manager(user) -> None:
    require_staff(user)
    if not user.sees_everything:
        raise Forbidden("Only admins and managers can do this.")


# ---------------------------------------------------------------- activities


def scope_activities(user, qs: QuerySet | None = None) -> QuerySet:
    """Activities ``user`` may see."""
    qs = Activity.objects.all() if qs is None else qs
    if not _is_staff(user):
        return qs.none()
    if user.sees_everything:
        return qs
    visible = people_access.scope_parties(user).values("pk")
    return qs.filter(Q(assignee_id=user.pk) | Q(created_by_id=user.pk) | Q(party_id__in=visible))


def get_activity(user, public_id) -> Activity:
    pid = _parse_id(public_id, "activity")
    found = (
        scope_activities(user)
        .select_related("type", "party", "assignee", "done_by", "record_type", "previous")
        .filter(public_id=pid)
        .first()
    )
    if found is None:
        raise NotFound("No such activity.")
    return found


def get_activity_for_change(user, public_id) -> Activity:
    activity = get_activity(user, public_id)
    require_writer(user)
    return activity


def get_activity_type(user, slug: str, *, field: str = "type") -> ActivityType:
    """An active activity type by slug; a bad slug is a field error (it is user input)."""
    require_staff(user)
    found = ActivityType.objects.filter(slug=slug, active=True).first()
    if found is None:
        raise ValidationFailed.single(field, "No such activity type.")
    return found


# ---------------------------------------------------------------- records


def resolve_record(user, record_type: str, record_id, *, field: str = "record"):
    """The record ``"app_label.model"`` + public id that ``user`` may attach work to.

    People and organisations go through ``kith.people.access`` (invisible → not found,
    merged ones not followed). Records of other apps need a ``public_id`` and go through
    their own app's ``get_<model>`` (see kith.core.records; interactions and transactions
    are seen by whoever may see their party); a record whose app offers none may be
    used by managers and admins only.
    """
    try:
        app_label, model = (record_type or "").lower().split(".", 1)
        ctype = ContentType.objects.get_by_natural_key(app_label, model)
    except (ValueError, ContentType.DoesNotExist) as exc:
        raise ValidationFailed.single(
            f"{field}_type", "Unknown record type; use app.model, e.g. people.party."
        ) from exc
    model_class = ctype.model_class()
    if (
        model_class is None
        or app_label in FORBIDDEN_RECORD_APPS
        or not any(f.name == "public_id" for f in model_class._meta.get_fields())
    ):
        raise ValidationFailed.single(
            f"{field}_type", "Activities cannot point at that kind of record."
        )
    if model_class is Party:
        try:
            return people_access.get_party(user, record_id, follow_merged=False)
        except NotFound as exc:
            raise ValidationFailed.single(f"{field}_id", "No such record.") from exc
    try:
        pid = _parse_id(record_id)
        getter = owning_app_getter(model_class)
        if getter is not None:
            return getter(user, pid)
        found = model_class._default_manager.filter(public_id=pid).first()
        if found is None or not user.sees_everything:
            raise NotFound("No such record.")
        return found
    except NotFound as exc:
        raise ValidationFailed.single(f"{field}_id", "No such record.") from exc


def get_party_ref(user, public_id, *, field: str = "party") -> Party:
    """A person/organisation named in input: invisible or unknown is a field error."""
    try:
        return people_access.get_party(user, public_id, follow_merged=False)
    except NotFound as exc:
        raise ValidationFailed.single(field, "No such person or organisation.") from exc


# ---------------------------------------------------------------- meetings


def scope_meetings(user, qs: QuerySet | None = None) -> QuerySet:
    """Meetings ``user`` may see."""
    qs = Meeting.objects.all() if qs is None else qs
    if not _is_staff(user):
        return qs.none()
    if user.sees_everything:
        return qs
    visible = people_access.scope_parties(user).values("pk")
    attends = MeetingAttendee.objects.filter(meeting=OuterRef("pk")).filter(
        Q(user_id=user.pk) | Q(party_id__in=visible)
    )
    return qs.filter(Q(organizer_id=user.pk) | Q(created_by_id=user.pk) | Exists(attends))


def get_meeting(user, public_id) -> Meeting:
    pid = _parse_id(public_id, "meeting")
    found = scope_meetings(user).select_related("organizer").filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such meeting.")
    return found


def get_meeting_for_change(user, public_id) -> Meeting:
    meeting = get_meeting(user, public_id)
    require_writer(user)
    return meeting


# ---------------------------------------------------------------- calendar feeds


def own_feed(user) -> CalendarFeed | None:
    require_staff(user)
    return CalendarFeed.objects.filter(user=user).first()


def attending_parties(user, meeting: Meeting) -> tuple[list[Party], list[Party]]:
    """The meeting's attending parties, split into those ``user`` may see and those
    they may not.

    A meeting may be visible to someone (they attend or organise it) whose attendees
    are not all visible to them: the others are never named (web UI, API, calendar
    feed), and an edit by that user keeps them rather than silently dropping them."""
    attending = [a.party for a in meeting.attendees.select_related("party") if a.party_id]
    visible = people_access.visible_ids(user, [p.pk for p in attending])
    return (
        [p for p in attending if p.pk in visible],
        [p for p in attending if p.pk not in visible],
    )
