"""Read models for work: derived activity status, filtered lists, "My day".

Status is derived, never stored: an open activity is *overdue* when its deadline is
before today, *today* when it is today, *upcoming* otherwise (including no deadline),
and *done* once completed. "Today" is the reader's today, in their time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from kith.core import timezones
from kith.work.models import Activity, Meeting

STATUSES = ("overdue", "today", "upcoming", "done")


def today_for(user, now: dt.datetime | None = None) -> dt.date:
    """The calendar date it is now where ``user`` is."""
    return (now or timezone.now()).astimezone(timezones.of_user(user)).date()


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
    counts: dict[str, int]


# Each section shows this many; the page links to the full list for the rest. Rendering
# rows costs far more than finding them, and a day's page is for the next things to do.
MY_DAY_LIMIT = 20
UPCOMING_DAYS = 7


ROW_FIELDS = (
    "public_id",
    "summary",
    "deadline",
    "deadline_time",
    "done_at",
    "assignee_id",
    "type__name",
    "type__icon",
    "party__public_id",
    "party__kind",
    "party__display_name",
)


def _lean(qs: QuerySet) -> QuerySet:
    """Only what an activity row shows: building full parties and users costs more than the SQL."""
    return qs.select_related("type", "party").only(*ROW_FIELDS)


def _by_deadline(rows: list[Activity]) -> list[Activity]:
    return sorted(rows, key=lambda a: (a.deadline, a.deadline_time or dt.time.max, a.id))


def my_day(user, *, now: dt.datetime | None = None, limit: int = MY_DAY_LIMIT) -> MyDay:
    """The user's open activities (overdue, today, the next week) and today's meetings."""
    today = today_for(user, now)
    mine = Activity.objects.filter(assignee_id=user.pk, done_at__isnull=True)
    sections = {
        "overdue": mine.filter(deadline__lt=today),
        "today": mine.filter(deadline=today),
        "upcoming": mine.filter(
            deadline__gt=today, deadline__lte=today + dt.timedelta(days=UPCOMING_DAYS)
        ),
    }
    # Ordered by (deadline, id) so the (assignee, done_at, deadline, id) index serves
    # the query; the time of day only reorders the rows already fetched.
    rows = {
        key: _by_deadline(list(_lean(qs).order_by("deadline", "id")[:limit]))
        for key, qs in sections.items()
    }
    counts = {
        key: len(rows[key]) if len(rows[key]) < limit else qs.count()
        for key, qs in sections.items()
    }
    zone = timezones.of_user(user)
    start = dt.datetime.combine(today, dt.time.min, tzinfo=zone)
    end = start + dt.timedelta(days=1)
    meetings = list(
        user_meetings(user)
        .filter(start__lt=end, end__gt=start)
        .exclude(status=Meeting.Status.CANCELLED)
        .order_by("start", "id")[:limit]
    )
    return MyDay(today, rows["overdue"], rows["today"], rows["upcoming"], meetings, counts)


def user_meetings(user) -> QuerySet:
    """Meetings ``user`` organises or attends (their calendar, not everything they may see)."""
    return Meeting.objects.filter(
        Q(organizer_id=user.pk) | Q(attendees__user_id=user.pk)
    ).distinct()


FEED_FIELDS = (
    "public_id",
    "created_at",
    "updated_at",
    "done_at",
    "summary",
    "note",
    "outcome",
    "deadline",
    "deadline_time",
    "timezone",
    "type__name",
    "party__display_name",
)


def feed_activities(user) -> QuerySet:
    """Activities in the user's calendar feed: assigned to them, with a deadline.

    Only the columns the feed writes are read: a feed holds thousands of rows, and a
    party's search document alone can be kilobytes.
    """
    return (
        Activity.objects.filter(assignee_id=user.pk, deadline__isnull=False)
        .select_related("type", "party")
        .only(*FEED_FIELDS)
        .order_by("deadline", "id")
    )
