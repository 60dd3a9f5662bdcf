"""iCalendar (RFC 5545): the private feed of a user's work, and .ics import of meetings.

The feed is what Outlook, Google Calendar and Apple Calendar subscribe to. Google
ignores VTODO, so activities go out as VEVENTs too: all-day on their deadline date, or
a short timed event at their deadline time. Every component has a stable UID from the
record's public id (``<uuid>@kith``), a DTSTAMP, and times in their own zone with the
matching VTIMEZONE, so an event planned at 10:00 Lisbon stays at 10:00 Lisbon.

Import reads VEVENTs with the icalendar library, one savepoint each, so one bad event
is reported (index, UID, message) without losing the others. Re-importing is
idempotent by UID; a recurring event becomes one meeting per occurrence (bounded).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import icalendar
from dateutil import rrule
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.crypto import salted_hmac
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from kith.core import inputs, timezones
from kith.core.errors import KithError, ValidationFailed
from kith.people import access as people_access
from kith.people.models import ContactPoint, Party
from kith.people.normalize import normalize_email
from kith.work import queries, services
from kith.work.models import Activity, CalendarFeed, Meeting

PRODID = "-//Kith//Kith Social CRM//EN"
_SALT = "kith.work.calendar-feed"
# The feed's window: calendars show the weeks around today; older history is in Kith.
FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 183
FEED_MEETING_PAST_DAYS = 90
FEED_MEETING_FUTURE_DAYS = 366
# At most this many activities (the earliest in the window): bounds the feed's cost.
FEED_MAX_ACTIVITIES = 2000
# Calendar apps poll every few minutes to hours; an unchanged feed comes from the cache.
FEED_CACHE_SECONDS = 15 * 60
ACTIVITY_MINUTES = 15
MAX_IMPORT_EVENTS = 2000
MAX_OCCURRENCES = 100
OCCURRENCE_HORIZON = dt.timedelta(days=2 * 366)
MAX_IMPORT_BYTES = 5 * 1024 * 1024


# ---------------------------------------------------------------- feed tokens


def _mac(key: str) -> str:
    return salted_hmac(_SALT, key, algorithm="sha256").hexdigest()[:40]


def feed_token(feed: CalendarFeed) -> str:
    """The secret part of the feed URL (recomputed, never stored)."""
    return f"{feed.key}.{_mac(feed.key)}"


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed ``token`` opens, or None (wrong, regenerated, revoked, user gone)."""
    key, _, mac = (token or "").partition(".")
    if not services.valid_key(key) or len(mac) != 40:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(key=key).first()
    if feed is None or not hmac.compare_digest(mac, _mac(key)):
        return None
    user = feed.user
    if not (user.is_active and user.is_staff_user):
        return None
    return feed


# ---------------------------------------------------------------- the feed


def _email_of_party(party: Party | None, emails: dict[int, str]) -> str:
    return emails.get(party.pk, "") if party is not None else ""


def _address(email: str, name: str, **params) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = icalendar.vText(name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = icalendar.vText(value)
    return address


_PARTSTAT = {
    "needs-action": "NEEDS-ACTION",
    "accepted": "ACCEPTED",
    "tentative": "TENTATIVE",
    "declined": "DECLINED",
}


def _meeting_event(
    meeting: Meeting, emails: dict[int, str], visible: set[int] | None = None
) -> icalendar.Event:
    """One meeting as a VEVENT; attending parties not in ``visible`` (when given) are
    left out: the feed's owner may not see them, so their names and addresses must
    not reach the owner's calendar app."""
    zone = timezones.zone(meeting.timezone)
    event = icalendar.Event()
    event.add("uid", f"{meeting.public_id}@kith")
    event.add("dtstamp", meeting.updated_at.astimezone(dt.UTC))
    event.add("created", meeting.created_at.astimezone(dt.UTC))
    event.add("last-modified", meeting.updated_at.astimezone(dt.UTC))
    event.add("sequence", meeting.sequence)
    event.add("summary", meeting.title)
    event.add("dtstart", meeting.start.astimezone(zone))
    event.add("dtend", meeting.end.astimezone(zone))
    event.add("status", meeting.status.upper())
    if meeting.description:
        event.add("description", meeting.description)
    if meeting.location:
        event.add("location", meeting.location)
    if meeting.url:
        event.add("url", meeting.url)
    organizer = meeting.organizer
    if organizer is not None and organizer.email:
        event.add(
            "organizer", _address(organizer.email, organizer.get_full_name() or organizer.username)
        )
    elif meeting.organizer_email:
        event.add("organizer", _address(meeting.organizer_email, meeting.organizer_name))
    for attendee in meeting.attendees.all():
        if attendee.party_id and visible is not None and attendee.party_id not in visible:
            continue
        email = attendee.email
        if attendee.party_id:
            email = _email_of_party(attendee.party, emails) or email
        elif attendee.user_id:
            email = attendee.user.email or email
        if not email:
            continue  # RFC 5545 wants a cal-address; a name alone cannot be an ATTENDEE
        event.add(
            "attendee",
            _address(
                email,
                str(attendee),
                role="REQ-PARTICIPANT",
                cutype="INDIVIDUAL",
                partstat=_PARTSTAT.get(attendee.response, "NEEDS-ACTION"),
            ),
        )
    return event


def _activity_event(activity: Activity) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{activity.public_id}@kith")
    # Only what calendars use: a feed can hold thousands of these, and each line costs.
    event.add("dtstamp", activity.updated_at.astimezone(dt.UTC))
    mark = "✓" if activity.done_at else "☐"
    about = f" — {activity.party.display_name}" if activity.party_id else ""
    event.add("summary", f"{mark} {activity.type.name}: {activity.summary}{about}")
    if activity.deadline_time is None:
        event.add("dtstart", activity.deadline)  # VALUE=DATE: an all-day entry
        event.add("dtend", activity.deadline + dt.timedelta(days=1))
    else:
        start = activity.due_at()
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=ACTIVITY_MINUTES))
    # Reminders, not busy time: a to-do must not block the calendar.
    event.add("transp", "TRANSPARENT")
    event.add("categories", [activity.type.name])
    lines = [activity.note] if activity.note else []
    if activity.done_at:
        lines.append(f"Done {activity.done_at:%Y-%m-%d %H:%M} UTC. {activity.outcome}".strip())
    if lines:
        event.add("description", "\n\n".join(lines))
    return event


def _fingerprint(user, today: dt.date) -> str:
    """Changes whenever anything the feed shows changes (or the day does)."""
    acts = queries.feed_activities(user).order_by().aggregate(n=Count("id"), at=Max("updated_at"))
    meets = (
        Meeting.objects.filter(pk__in=queries.user_meetings(user).values("pk"))
        .order_by()
        .aggregate(n=Count("id"), at=Max("updated_at"))
    )
    raw = f"{today}|{user.timezone}|{acts['n']}|{acts['at']}|{meets['n']}|{meets['at']}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def cached_feed(feed: CalendarFeed) -> bytes:
    """The feed of ``feed``'s user, rendered at most once per change (or per quarter hour)."""
    user = feed.user
    today = queries.today_for(user)
    key = f"kith.work.feed:{feed.pk}:{feed.key}:{_fingerprint(user, today)}"
    body = cache.get(key)
    if body is None:
        body = build_feed(user)
        cache.set(key, body, FEED_CACHE_SECONDS)
    return body


def build_feed(user, *, now: dt.datetime | None = None) -> bytes:
    """The user's calendar: meetings they organise or attend, and their activities."""
    now = now or timezone.now()
    today = queries.today_for(user, now)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Kith — {user.get_full_name() or user.get_username()}")
    cal.add("x-wr-timezone", user.timezone or "UTC")
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    meetings = list(
        queries.user_meetings(user)
        .filter(
            end__gte=now - dt.timedelta(days=FEED_MEETING_PAST_DAYS),
            start__lte=now + dt.timedelta(days=FEED_MEETING_FUTURE_DAYS),
        )
        .select_related("organizer")
        .prefetch_related("attendees__party", "attendees__user")
        .order_by("start", "id")
    )
    party_ids = {a.party_id for m in meetings for a in m.attendees.all() if a.party_id}
    # The feed shows what its owner may see in Kith: attendees hidden from them are left out.
    party_ids = people_access.visible_ids(user, party_ids)
    emails: dict[int, str] = {}
    for pid, value in (
        ContactPoint.objects.filter(party_id__in=party_ids, channel=ContactPoint.EMAIL)
        .order_by("party_id", "-primary", "id")
        .values_list("party_id", "value")
    ):
        emails.setdefault(pid, value)
    for meeting in meetings:
        cal.add_component(_meeting_event(meeting, emails, party_ids))
    activities = queries.feed_activities(user).filter(
        deadline__gte=today - dt.timedelta(days=FEED_PAST_DAYS),
        deadline__lte=today + dt.timedelta(days=FEED_FUTURE_DAYS),
    )[:FEED_MAX_ACTIVITIES]
    for activity in activities:
        cal.add_component(_activity_event(activity))
    cal.add_missing_timezones()
    return cal.to_ical()


# ---------------------------------------------------------------- import


@dataclass
class ImportProblem:
    index: int
    uid: str
    summary: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "uid": self.uid,
            "summary": self.summary,
            "message": self.message,
        }


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    meetings: list[Meeting] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    return str(value).strip()


def _email(address) -> str:
    raw = str(address or "").strip()
    if raw.lower().startswith("mailto:"):
        raw = raw[7:]
    try:
        return normalize_email(raw) if "@" in raw else ""
    except Exception:  # a malformed address is just not matched
        return ""


def _zone_name(value: dt.datetime, fallback: str, tzid: str = "") -> str:
    """The IANA name of ``value``'s zone; Outlook's Windows names are mapped (W. Europe → Berlin)."""
    tz = value.tzinfo
    key = getattr(tz, "key", None)
    if key and services.valid_zone(key):
        return key
    for name in (tzid, WINDOWS_TO_OLSON.get(tzid, "")):
        if name and services.valid_zone(name):
            return name
    if tz is not None and value.utcoffset() == dt.timedelta(0) and str(tz).upper() in ("UTC", "Z"):
        return "UTC"
    return fallback if tz is None else "UTC"


def _times(event, fallback_zone: str) -> tuple[dt.datetime, dt.datetime, str]:
    """Start, end (aware) and the zone name of a VEVENT, within the dates Kith stores
    (kith.core.inputs): a file is input like any other, and year 9999 in New York
    overflows when converted to UTC."""
    try:
        start, end, zone = _times_unchecked(event, fallback_zone)
    except OverflowError:
        raise ValidationFailed.single("dtstart", inputs.RANGE_MESSAGE) from None
    for name, value in (("dtstart", start), ("dtend", end)):
        try:
            inputs.check_value(value)
        except inputs.InputError as exc:
            raise ValidationFailed.single(name, exc.message) from None
    return start, end, zone


def _times_unchecked(event, fallback_zone: str) -> tuple[dt.datetime, dt.datetime, str]:
    """Start, end (aware) and the zone name of a VEVENT; all-day events fill their days."""
    if event.get("dtstart") is None:
        raise ValidationFailed.single("dtstart", "The event has no DTSTART.")
    start = event.decoded("dtstart")
    end = event.decoded("dtend") if event.get("dtend") is not None else None
    duration = event.decoded("duration") if event.get("duration") is not None else None
    if isinstance(start, dt.datetime):
        tzid = str(getattr(event.get("dtstart"), "params", {}).get("TZID", "") or "")
        zone = _zone_name(start, fallback_zone, tzid)
        if start.tzinfo is None:  # floating time: the importer's wall clock
            start = start.replace(tzinfo=timezones.zone(zone))
        if isinstance(end, dt.datetime) and end.tzinfo is None:
            end = end.replace(tzinfo=timezones.zone(zone))
        if end is None:
            end = start + (duration if isinstance(duration, dt.timedelta) else dt.timedelta(0))
        if isinstance(end, dt.date) and not isinstance(end, dt.datetime):
            raise ValidationFailed.single("dtend", "DTEND is a date but DTSTART a date-time.")
        return start, end, zone
    # VALUE=DATE: an all-day event, midnight to midnight in the importer's zone.
    zone = fallback_zone
    tz = timezones.zone(zone)
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    if isinstance(end, dt.date) and not isinstance(end, dt.datetime):
        last = dt.datetime.combine(end, dt.time.min, tzinfo=tz)
    elif isinstance(duration, dt.timedelta):
        last = first + duration
    else:
        last = first + dt.timedelta(days=1)
    return first, last, zone


def _occurrences(event, start: dt.datetime) -> list[dt.datetime] | None:
    """Start times of a recurring event (RRULE/RDATE minus EXDATE), or None if it does not recur."""
    if event.get("rrule") is None and event.get("rdate") is None:
        return None
    rules = rrule.rruleset()
    horizon = start + OCCURRENCE_HORIZON
    local = start.replace(tzinfo=None)
    tz = start.tzinfo
    raw_rules = event.get("rrule")
    for raw in raw_rules if isinstance(raw_rules, list) else ([raw_rules] if raw_rules else []):
        rule_text = raw.to_ical().decode()
        # UNTIL in UTC against a local DTSTART confuses dateutil: compare in local time.
        rule = rrule.rrulestr(rule_text, dtstart=local, ignoretz=True)
        rules.rrule(rule)
    for name, add in (("rdate", rules.rdate), ("exdate", rules.exdate)):
        values = event.get(name)
        for entry in values if isinstance(values, list) else ([values] if values else []):
            for item in entry.dts:
                when = item.dt
                if isinstance(when, dt.datetime):
                    when = when.astimezone(tz).replace(tzinfo=None) if when.tzinfo else when
                else:
                    when = dt.datetime.combine(when, local.time())
                add(when)
    result = []
    for when in rules:
        if len(result) >= MAX_OCCURRENCES or when.replace(tzinfo=tz) > horizon:
            break
        result.append(when.replace(tzinfo=tz))
    return result


def _match_attendees(actor, event) -> tuple[list[Party], list[Any], list[dict]]:
    """ATTENDEEs as parties the actor may see (by normalised e-mail), users, or bare e-mails."""
    from kith.accounts.models import User

    raw = event.get("attendee")
    addresses = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    parties: list[Party] = []
    users: list[Any] = []
    extra: list[dict] = []
    seen: set[str] = set()
    visible = people_access.staff_scope(actor)
    for address in addresses:
        email = _email(address)
        if not email or email in seen:
            continue
        seen.add(email)
        name = str(getattr(address, "params", {}).get("CN", "") or "")[:200]
        partstat = str(getattr(address, "params", {}).get("PARTSTAT", "") or "").lower()
        user = User.objects.filter(
            email__iexact=email, kind=User.Kind.STAFF, is_active=True
        ).first()
        if user is not None:
            users.append(user)
            continue
        point = (
            ContactPoint.objects.filter(channel=ContactPoint.EMAIL, normalized=email)
            .select_related("party")
            .first()
        )
        party = point.party if point else None
        if party is not None and party.status == Party.Status.MERGED and party.merged_into_id:
            party = Party.objects.filter(pk=party.merged_into_id).first()
        if (
            party is not None
            and party.status == Party.Status.ACTIVE
            and visible.filter(pk=party.pk).exists()
        ):
            parties.append(party)
            continue
        response = partstat if partstat in _PARTSTAT else "needs-action"
        extra.append({"email": email, "name": name, "response": response})
    return parties, users, extra


def _organizer(event) -> tuple[Any, str, str]:
    from kith.accounts.models import User

    address = event.get("organizer")
    if address is None:
        return None, "", ""
    email = _email(address)
    name = str(getattr(address, "params", {}).get("CN", "") or "")
    user = (
        User.objects.filter(email__iexact=email, kind=User.Kind.STAFF, is_active=True).first()
        if email
        else None
    )
    return user, email, name


_STATUS = {"CONFIRMED": "confirmed", "TENTATIVE": "tentative", "CANCELLED": "cancelled"}


def _import_one(actor, event, *, uid: str, start, end, zone, report: ImportReport) -> None:
    parties, users, extra = _match_attendees(actor, event)
    organizer, organizer_email, organizer_name = _organizer(event)
    existing = Meeting.objects.filter(uid=uid).select_related("organizer").first()
    if organizer is None and not organizer_email:
        # No ORGANIZER: the meeting's known organiser, or for a new one the importer.
        organizer = existing.organizer if existing is not None else actor
    # The importer sees the meeting in their feed: they attend unless they organise it.
    attends = any(u.pk == actor.pk for u in users)
    if (organizer is None or organizer.pk != actor.pk) and not attends:
        users.append(actor)
    try:
        sequence = int(str(event.get("sequence", 0)))
    except ValueError:
        sequence = 0
    data = services.MeetingInput(
        title=_text(event, "summary") or "(no title)",
        start=start,
        end=end,
        timezone=zone,
        description=_text(event, "description"),
        location=_text(event, "location")[:300],
        url=_text(event, "url"),
        status=_STATUS.get(_text(event, "status").upper(), "confirmed"),
        parties=parties,
        users=users,
        organizer=organizer,
    )
    if existing is None:
        meeting = services.create_meeting(
            actor=actor,
            data=data,
            uid=uid,
            source="ics",
            sequence=sequence,
            organizer_email=organizer_email if organizer is None else "",
            organizer_name=organizer_name if organizer is None else "",
            extra_attendees=extra,
        )
        report.created += 1
    elif sequence < existing.sequence:
        meeting = existing  # an older copy of the invitation: keep what we have
        report.unchanged += 1
    else:
        # Someone else may have imported the same invitation: keep the attendees the
        # importer cannot see and the colleagues already on it, rather than drop them.
        visible = people_access.staff_scope(actor)
        kept = list(existing.attendees.select_related("party", "user"))
        data.parties += [
            a.party
            for a in kept
            if a.party_id
            and a.party not in data.parties
            and not visible.filter(pk=a.party_id).exists()
        ]
        data.users += [a.user for a in kept if a.user_id and a.user not in data.users]
        before = existing.updated_at
        meeting = services.update_meeting(
            actor=actor,
            meeting=existing,
            data=data,
            sequence=max(sequence, existing.sequence),
            extra_attendees=extra,
        )
        if meeting.updated_at != before:
            report.updated += 1
        else:
            report.unchanged += 1
    report.meetings.append(meeting)


def parse_calendar(content: bytes | str) -> icalendar.Calendar:
    """The calendar in ``content``, or a ValidationFailed on the ``file`` field."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not content or not content.strip():
        raise ValidationFailed.single("file", "The file is empty.")
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationFailed.single("file", "The file is larger than 5 MB.")
    try:
        calendars = icalendar.Calendar.from_ical(content, multiple=True)
    except OSError as exc:
        # icalendar reads a TZID with ZoneInfo(): a folder of the tz database ("America")
        # raises IsADirectoryError, whose text would show a path on this server.
        raise ValidationFailed.single(
            "file", "Not an iCalendar file: a TZID is not a time zone name."
        ) from exc
    except Exception as exc:  # icalendar raises ValueError and friends on garbage
        raise ValidationFailed.single("file", f"Not an iCalendar file: {exc}"[:300]) from exc
    calendars = [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"]
    if not calendars:
        raise ValidationFailed.single("file", "Not an iCalendar file: no VCALENDAR found.")
    if len(calendars) == 1:
        return calendars[0]
    merged = icalendar.Calendar()
    for cal in calendars:
        for component in cal.subcomponents:
            merged.add_component(component)
    return merged


def import_ics(*, actor, content: bytes | str) -> ImportReport:
    """Import the meetings (VEVENTs) of an .ics file; bad events are reported, not fatal."""
    cal = parse_calendar(content)
    fallback_zone = getattr(actor, "timezone", "") or "UTC"
    if not services.valid_zone(fallback_zone):
        fallback_zone = "UTC"
    report = ImportReport()
    events_ = [c for c in cal.walk("VEVENT")]
    if len(events_) > MAX_IMPORT_EVENTS:
        raise ValidationFailed.single("file", f"At most {MAX_IMPORT_EVENTS} events per file.")
    # Overrides of single occurrences (RECURRENCE-ID) replace the generated occurrence.
    overrides: dict[tuple[str, str], Any] = {}
    for index, event in enumerate(events_, start=1):
        uid = _text(event, "uid")
        if event.get("recurrence-id") is None or not uid:
            continue
        try:
            overrides[(uid, _occurrence_key(event.decoded("recurrence-id")))] = event
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            summary = _text(event, "summary")[:300]
            report.errors.append(ImportProblem(index, uid, summary, f"Bad RECURRENCE-ID: {exc}"))
    with transaction.atomic():
        for index, event in enumerate(events_, start=1):
            uid = _text(event, "uid")
            summary = _text(event, "summary")[:300]
            if event.get("recurrence-id") is not None and uid:
                continue  # handled with its master event below
            if not uid:
                report.errors.append(ImportProblem(index, "", summary, "The event has no UID."))
                continue
            # A failing event rolls back whole (all its occurrences), and so does its count.
            before = (report.created, report.updated, report.unchanged, len(report.meetings))
            try:
                with transaction.atomic():
                    start, end, zone = _times(event, fallback_zone)
                    if not isinstance(start, dt.datetime) or end <= start:
                        raise ValidationFailed.single("dtend", "The event ends before it starts.")
                    occurrences = _occurrences(event, start)
                    if occurrences is None:
                        _import_one(
                            actor, event, uid=uid, start=start, end=end, zone=zone, report=report
                        )
                        continue
                    length = end - start
                    for when in occurrences:
                        key = _occurrence_key(when)
                        source = overrides.get((uid, key), event)
                        o_start, o_end = when, when + length
                        if source is not event:
                            o_start, o_end, zone = _times(source, fallback_zone)
                        _import_one(
                            actor,
                            source,
                            uid=f"{uid}#{key}"[:255],
                            start=o_start,
                            end=o_end,
                            zone=zone,
                            report=report,
                        )
            except KithError as exc:
                _restore(report, before)
                message = (
                    "; ".join(f"{e.field}: {e.message}" for e in getattr(exc, "errors", []))
                    or exc.message
                )
                report.errors.append(ImportProblem(index, uid, summary, message))
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
                _restore(report, before)
                report.errors.append(
                    ImportProblem(index, uid, summary, f"Cannot read this event: {exc}"[:300])
                )
    return report


def _restore(report: ImportReport, before: tuple[int, int, int, int]) -> None:
    report.created, report.updated, report.unchanged, kept = before
    del report.meetings[kept:]


def _occurrence_key(value) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")
