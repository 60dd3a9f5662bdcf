"""Read models for work: derived activity status, filtered lists, "My day".

Status is derived, never stored: an open activity is *overdue* when its deadline is
before today, *today* when it is today, *upcoming* otherwise (including no deadline),
and *done* once completed. "Today" is the reader's today, in their time zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from kith.work.models import Activity, Meeting

STATUSES = ("overdue", "today", "upcoming", "done")


def user_zone(user) -> dt.tzinfo:
    """The user's time zone (UTC when unset or unknown)."""
    try:
        return zoneinfo.ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def today_for(user, now: dt.datetime | None = None) -> dt.date:
    """The calendar date it is now where ``user`` is."""
    return (now or timezone.now()).astimezone(user_zone(user)).date()


def status_of(activity: Activity, today: dt.date) -> str:
    if activity.done_at is not None:
        return "done"
    if activity.deadline is None or activity.deadline > today:
        return "upcoming"
    return "overdue" if activity.deadline < today else "today"


def status_filter(status: str, today: dt.date) -> Q:
    """A Q selecting activities in ``status`` as of ``today``."""
    open_ = Q(done_at__isnull=True)
    if status == "done":
        return Q(done_at__isnull=False)
    if status == "overdue":
        return open_ & Q(deadline__lt=today)
    if status == "today":
        return open_ & Q(deadline=today)
    if status == "upcoming":
        return open_ & (Q(deadline__gt=today) | Q(deadline__isnull=True))
    if status == "open":
        return open_
    raise ValueError(status)


@dataclass
class ActivityFilters:
    assignee_id: int | None = None
    status: str = ""
    record_type_id: int | None = None
    record_id: int | None = None
    party_id: int | None = None
    type_slug: str = ""
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None


def apply_filters(qs: QuerySet, filters: ActivityFilters, *, today: dt.date) -> QuerySet:
    if filters.assignee_id is not None:
        qs = qs.filter(assignee_id=filters.assignee_id)
    if filters.status:
        qs = qs.filter(status_filter(filters.status, today))
    if filters.record_type_id is not None:
        qs = qs.filter(record_type_id=filters.record_type_id, record_id=filters.record_id)
    if filters.party_id is not None:
        qs = qs.filter(party_id=filters.party_id)
    if filters.type_slug:
        qs = qs.filter(type__slug=filters.type_slug)
    if filters.deadline_from is not None:
        qs = qs.filter(deadline__gte=filters.deadline_from)
    if filters.deadline_to is not None:
        qs = qs.filter(deadline__lte=filters.deadline_to)
    return qs


def with_list_data(qs: QuerySet) -> QuerySet:
    return qs.select_related("type", "party", "assignee", "done_by", "record_type", "previous")


@dataclass
class MyDay:
    today: dt.date
    overdue: list[Activity]
    due_today: list[Activity]
    upcoming: list[Activity]
    meetings: list[Meeting]


MY_DAY_LIMIT = 50
UPCOMING_DAYS = 7


def my_day(user, *, now: dt.datetime | None = None, limit: int = MY_DAY_LIMIT) -> MyDay:
    """The user's open activities (overdue, today, the next week) and today's meetings."""
    today = today_for(user, now)
    mine = with_list_data(Activity.objects.filter(assignee_id=user.pk, done_at__isnull=True))
    overdue = list(
        mine.filter(deadline__lt=today).order_by("deadline", "deadline_time", "id")[:limit]
    )
    due_today = list(mine.filter(deadline=today).order_by("deadline_time", "id")[:limit])
    upcoming = list(
        mine.filter(
            deadline__gt=today, deadline__lte=today + dt.timedelta(days=UPCOMING_DAYS)
        ).order_by("deadline", "deadline_time", "id")[:limit]
    )
    zone = user_zone(user)
    start = dt.datetime.combine(today, dt.time.min, tzinfo=zone)
    end = start + dt.timedelta(days=1)
    meetings = list(
        user_meetings(user)
        .filter(start__lt=end, end__gt=start)
        .exclude(status=Meeting.Status.CANCELLED)
        .select_related("organizer")
        .prefetch_related("attendees__party", "attendees__user")
        .order_by("start", "id")[:limit]
    )
    return MyDay(today, overdue, due_today, upcoming, meetings)


def user_meetings(user) -> QuerySet:
    """Meetings ``user`` organises or attends (their calendar, not everything they may see)."""
    return Meeting.objects.filter(
        Q(organizer_id=user.pk) | Q(attendees__user_id=user.pk)
    ).distinct()


def feed_activities(user) -> QuerySet:
    """Activities in the user's calendar feed: assigned to them, with a deadline."""
    return with_list_data(
        Activity.objects.filter(assignee_id=user.pk, deadline__isnull=False)
    ).order_by("deadline", "id")
