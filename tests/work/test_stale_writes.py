"""Read-modify-write in activities and meetings: a request holding an old copy of the row
(loaded before another request committed) must not undo or double what that one did."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.core.errors import Conflict
from kith.work import services
from kith.work.models import Activity, Meeting

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(bob, call_type, ana):
    return services.create_activity(
        actor=bob, type=call_type, summary="Call back", record=ana, deadline=dt.date(2026, 7, 1)
    )


def test_an_edit_from_an_old_copy_does_not_undo_a_completion(activity, bob):
    stale = Activity.objects.get(pk=activity.pk)  # loaded by an edit form's request
    services.complete_activity(actor=bob, activity=activity, outcome="Reached her")
    services.update_activity(actor=bob, activity=stale, summary="Call back soon")
    row = Activity.objects.get(pk=activity.pk)
    assert row.summary == "Call back soon"
    assert row.done_at is not None and row.outcome == "Reached her"


def test_reopening_twice_is_a_conflict_the_second_time(activity, bob):
    services.complete_activity(actor=bob, activity=activity)
    first = Activity.objects.get(pk=activity.pk)
    second = Activity.objects.get(pk=activity.pk)
    services.reopen_activity(actor=bob, activity=first)
    with pytest.raises(Conflict):
        services.reopen_activity(actor=bob, activity=second)


def test_two_meeting_updates_from_old_copies_bump_the_sequence_twice(bob, ana):
    start = dt.datetime(2026, 7, 10, 10, 0)
    data = {"start": start, "end": start + dt.timedelta(hours=1), "timezone": "Europe/Lisbon"}
    meeting = services.create_meeting(
        actor=bob, data=services.MeetingInput(title="Kick-off", parties=[ana], **data)
    )
    one, two = Meeting.objects.get(pk=meeting.pk), Meeting.objects.get(pk=meeting.pk)
    services.update_meeting(
        actor=bob,
        meeting=one,
        data=services.MeetingInput(title="Kick-off 2", parties=[ana], **data),
    )
    services.update_meeting(
        actor=bob,
        meeting=two,
        data=services.MeetingInput(title="Kick-off 3", parties=[ana], **data),
    )
    row = Meeting.objects.get(pk=meeting.pk)
    assert row.title == "Kick-off 3"
    assert row.sequence == meeting.sequence + 2  # calendars see each change as newer
