"""The demo data set includes activities (overdue, done, chained) and meetings with attendees."""

from __future__ import annotations

from kith.accounts.models import User
from kith.demo import data
from kith.interactions.models import Interaction
from kith.people.access import scope_parties
from kith.work import demo as work_demo
from kith.work import queries
from kith.work.models import Activity, Meeting, MeetingAttendee


def test_demo_activities_and_meetings(db):
    result = data.load(people=60, organizations=8, interactions=300)
    summary = [line for line in result.extensions if "activities" in line]
    assert summary and "meetings" in summary[0]
    anchor = data.ANCHOR
    assert Activity.objects.filter(assignee__username="bob").exists()
    assert Activity.objects.filter(done_at__isnull=True, deadline__lt=anchor).exists()  # overdue
    assert Activity.objects.filter(queries.status_filter("upcoming", anchor)).exists()
    done = Activity.objects.filter(done_at__isnull=False)
    assert done.exists()
    follow = Activity.objects.filter(previous__isnull=False).select_related("previous").first()
    assert follow is not None and follow.previous.done_at is not None
    assert follow.party_id == follow.previous.party_id
    # Done activities and meetings are on the timelines, as the services would log them.
    a = done.first()
    assert Interaction.objects.filter(external_id=f"activity:{a.public_id}", party=a.party).exists()
    m = Meeting.objects.filter(attendees__party__isnull=False).first()
    guest = MeetingAttendee.objects.filter(meeting=m, party__isnull=False).first()
    assert Interaction.objects.filter(
        party=guest.party, channel="meeting", related_id=m.pk
    ).exists()
    assert Meeting.objects.filter(start__date__lt=anchor).exists()
    assert Meeting.objects.filter(start__date__gt=anchor).exists()
    # bob, an agent, only works on people he may see.
    bob = User.objects.get(username="bob")
    mine = Activity.objects.filter(assignee=bob).values_list("party_id", flat=True)
    assert set(mine) <= set(scope_parties(bob).values_list("pk", flat=True))
    # Deterministic: the same seed gives the same ids; wipe removes exactly its rows.
    ids = set(Activity.objects.values_list("public_id", flat=True))
    work_demo.wipe()
    assert not Activity.objects.exists() and not Meeting.objects.exists()
    work_demo.load(seed=data.DEFAULT_SEED, anchor=anchor)
    assert set(Activity.objects.values_list("public_id", flat=True)) == ids
    data.wipe()
    assert not Activity.objects.exists() and not Meeting.objects.exists()
