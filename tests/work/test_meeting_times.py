"""A meeting's times read in its own zone on its page and in the list.

Before, templates converted the zone's wall clock back to the server's zone (UTC):
a meeting at 15:00 Europe/Paris in winter showed as "14:00–14:45 (Europe/Paris)".
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.work import services
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris_meeting(alice):
    year = timezone.now().year + 1
    return services.create_meeting(
        actor=alice,
        data=services.MeetingInput(
            title="Paris review",
            start=dt.datetime(year, 1, 15, 15, 0),
            end=dt.datetime(year, 1, 15, 15, 45),
            timezone="Europe/Paris",
            users=[alice],
        ),
    )


def test_meeting_page_and_list_show_the_meetings_own_wall_clock(alice, paris_meeting):
    assert paris_meeting.start.astimezone(dt.UTC).hour == 14  # stored in UTC
    page = client_for(alice).get(f"/work/meetings/{paris_meeting.public_id}/").content.decode()
    assert "15:00–15:45 (Europe/Paris)" in page
    assert "14:00–14:45 (Europe/Paris)" not in page
    listing = client_for(alice).get("/work/meetings/").content.decode()
    assert "15:00–15:45 (Europe/Paris)" in listing


def test_in_your_time_is_the_readers_zone(alice, paris_meeting):
    alice.timezone = "America/New_York"
    alice.save(update_fields=["timezone"])
    page = client_for(alice).get(f"/work/meetings/{paris_meeting.public_id}/").content.decode()
    assert "09:00–09:45 (America/New_York)" in page


def test_the_form_defaults_to_the_users_zone_and_offers_the_zones(alice):
    alice.timezone = "Asia/Tokyo"
    alice.save(update_fields=["timezone"])
    form = client_for(alice).get("/work/meetings/new/").content.decode()
    assert 'value="Asia/Tokyo"' in form
    assert '<option value="Europe/Paris">' in form
