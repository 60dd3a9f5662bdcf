"""Work: activity types, activities on any record, meetings with attendees, calendar feeds.

An activity points at the record it is about through one generic reference
(``record_type`` + ``record_id``), as DESIGN.md asks of everything social, and also
carries the person or organisation it concerns (``party``) so it lands on that
timeline. Its status (overdue, today, upcoming, done) is never stored: it is derived
from the deadline in the reader's time zone (``kith.work.queries``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from kith.core import timezones
from kith.core.models import KithModel


class ActivityType(KithModel):
    """A kind of activity (call, meeting, e-mail, to-do, or one an admin adds): data, not code.

    ``channel`` is the Interaction channel a completed activity of this type logs on
    the timeline; ``direction`` says whether it was a touchpoint with the customer.
    """

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    icon = models.CharField(max_length=30, default="check")
    channel = models.CharField(max_length=20, default="system")
    direction = models.CharField(max_length=10, default="out")
    builtin = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Activity(KithModel):
    """Something to do about a record: a call to make, an e-mail to send, a to-do."""

    type = models.ForeignKey(ActivityType, on_delete=models.PROTECT, related_name="activities")
    summary = models.CharField(max_length=300)
    note = models.TextField(blank=True)
    record_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    record_id = models.BigIntegerField(null=True, blank=True)
    party = models.ForeignKey(
        "people.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_activities",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_activities",
    )
    deadline = models.DateField(null=True, blank=True)
    deadline_time = models.TimeField(null=True, blank=True)
    # The zone the deadline (date and time) is expressed in: the assignee's when set.
    timezone = models.CharField(max_length=64, default="UTC")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    outcome = models.TextField(blank=True)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="followups"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(fields=["assignee", "done_at", "deadline", "id"]),
            models.Index(fields=["record_type", "record_id"]),
            models.Index(fields=["party", "deadline"]),
            models.Index(fields=["deadline", "id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(record_type__isnull=True, record_id__isnull=True)
                | Q(record_type__isnull=False, record_id__isnull=False),
                name="activity_record_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(deadline_time__isnull=True) | Q(deadline__isnull=False),
                name="activity_time_needs_date",
            ),
        ]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return self.summary

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def due_at(self) -> dt.datetime | None:
        """The deadline as an aware datetime (end of day when no time is set)."""
        if self.deadline is None:
            return None
        tz = timezones.zone(self.timezone)
        when = self.deadline_time or dt.time(23, 59, 59)
        return dt.datetime.combine(self.deadline, when, tzinfo=tz)


class Meeting(KithModel):
    """A meeting with people (parties) and users, at a place and/or a URL.

    ``start``/``end`` are aware (UTC in the database); ``timezone`` is the zone it was
    planned in, so calendars show it at the wall-clock time its organiser chose.
    ``uid`` is the iCalendar UID: ours for meetings made here, the source's for
    imported ones, which keeps re-imports idempotent.
    """

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        TENTATIVE = "tentative", "Tentative"
        CANCELLED = "cancelled", "Cancelled"

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    location = models.CharField(max_length=300, blank=True)
    url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organized_meetings",
    )
    # An imported meeting may be organised by someone who is not a user here.
    organizer_email = models.CharField(max_length=254, blank=True)
    organizer_name = models.CharField(max_length=200, blank=True)
    record_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    record_id = models.BigIntegerField(null=True, blank=True)
    uid = models.CharField(max_length=255, unique=True)
    sequence = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=20, default="kith")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="meeting_end_after_start"
            )
        ]
        ordering = ["start", "id"]

    def __str__(self) -> str:
        return self.title


class MeetingAttendee(models.Model):
    """One attendee: a person (Party), a user, or for imports an e-mail we could not match."""

    class Response(models.TextChoices):
        NEEDS_ACTION = "needs-action", "Not answered"
        ACCEPTED = "accepted", "Accepted"
        TENTATIVE = "tentative", "Maybe"
        DECLINED = "declined", "Declined"

    id = models.BigAutoField(primary_key=True)
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendees")
    party = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="meeting_attendances",
    )
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=200, blank=True)
    response = models.CharField(
        max_length=12, choices=Response.choices, default=Response.NEEDS_ACTION
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "party"],
                condition=Q(party__isnull=False),
                name="uniq_meeting_party",
            ),
            models.UniqueConstraint(
                fields=["meeting", "user"],
                condition=Q(user__isnull=False),
                name="uniq_meeting_user",
            ),
            models.CheckConstraint(
                condition=Q(party__isnull=False) | Q(user__isnull=False) | ~Q(email=""),
                name="attendee_is_someone",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.email or str(self.party or self.user)


class CalendarFeed(KithModel):
    """A user's private iCalendar feed.

    The URL token is ``<key>.<mac>``: ``key`` is random and stored, ``mac`` is an HMAC
    of it under the site's SECRET_KEY and is never stored. The settings page can show
    the URL again at any time, a copy of the database alone does not reveal it, and
    regenerating (a new key) or revoking kills the old URL at once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    key = models.CharField(max_length=32, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
