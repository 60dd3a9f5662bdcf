"""Audit findings in meetings: attendees a user may not see must stay hidden in the API,
the web edit form and the calendar feed, and an edit must not drop them."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.people import services as people_services
from kith.people.services import ContactInput
from kith.work import calendar, services
from tests.conftest import client_for

START = dt.datetime.combine(dt.date.today() + dt.timedelta(days=7), dt.time(10, 0))


@pytest.fixture
def shared_meeting(dan, bob, ana, secret_person):
    """dan's meeting with his private contact Sam, Ana, and bob as a colleague."""
    people_services.add_contact_point(
        actor=dan, party=secret_person, contact=ContactInput("email", "sam@secret.example")
    )
    return services.create_meeting(
        actor=dan,
        data=services.MeetingInput(
            title="Board prep",
            start=START,
            end=START + dt.timedelta(hours=1),
            timezone="UTC",
            parties=[secret_person, ana],
            users=[bob],
        ),
    )


def test_api_does_not_name_attendees_the_reader_cannot_see(
    api_as, bob, shared_meeting, secret_person
):
    r = api_as(bob).get(f"/api/meetings/{shared_meeting.public_id}")
    assert r.status_code == 200
    text = r.content.decode()
    assert "Sam Secret" not in text and str(secret_person.public_id) not in text
    attendees = r.json()["attendees"]
    assert len(attendees) == 3  # still counted, as on the web page
    assert {a["name"] for a in attendees} >= {"Ana Lima", "bob"}
    listed = api_as(bob).get("/api/meetings").content.decode()
    assert "Sam Secret" not in listed and str(secret_person.public_id) not in listed


def test_calendar_feed_does_not_leak_hidden_attendees(bob, shared_meeting):
    body = calendar.build_feed(bob).decode()
    assert "Board prep" in body
    assert "sam@secret.example" not in body and "Secret" not in body


def test_web_edit_form_does_not_name_hidden_attendees(bob, shared_meeting, secret_person):
    page = client_for(bob).get(f"/work/meetings/{shared_meeting.public_id}/edit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sam Secret" not in html and str(secret_person.public_id) not in html


def test_editing_attendees_keeps_those_the_editor_cannot_see(
    api_as, bob, ana, shared_meeting, secret_person
):
    r = api_as(bob).patch(
        f"/api/meetings/{shared_meeting.public_id}",
        {"title": "Board prep v2", "attendees": [str(ana.public_id)]},
    )
    assert r.status_code == 200, r.content
    assert shared_meeting.attendees.filter(party=secret_person).exists()
    client_for(bob).post(
        f"/work/meetings/{shared_meeting.public_id}/edit/",
        {
            "title": "Board prep v3",
            "start": START.strftime("%Y-%m-%dT%H:%M"),
            "end": (START + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "attendees": [str(ana.public_id)],
            "attendee_users": ["bob"],
        },
    )
    shared_meeting.refresh_from_db()
    assert shared_meeting.title == "Board prep v3"
    assert shared_meeting.attendees.filter(party=secret_person).exists()
