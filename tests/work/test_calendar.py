"""iCalendar: the private feed (parsed back with icalendar) and .ics import of meetings."""

from __future__ import annotations

import datetime as dt
import pathlib
import zoneinfo

import icalendar
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.core.errors import ValidationFailed
from kith.interactions.models import Interaction
from kith.work import calendar, services
from kith.work.models import Meeting

DATA = pathlib.Path(__file__).parent / "data"
LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")
# Within the feed's window, whenever the tests run.
D = dt.date.today() + dt.timedelta(days=10)


@pytest.fixture
def bob_calendar(bob, dan, ana, call_type, todo_type):
    bob.email = "bob@kith.example"
    bob.timezone = "Europe/Lisbon"
    bob.save()
    meeting = services.create_meeting(
        actor=bob,
        data=services.MeetingInput(
            title="Kick-off",
            start=dt.datetime.combine(D, dt.time(10, 0)),
            end=dt.datetime.combine(D, dt.time(11, 0)),
            timezone="Europe/Lisbon",
            location="HQ, room 2",
            url="https://meet.example.com/k",
            parties=[ana],
            users=[dan],
        ),
    )
    day = services.create_activity(
        actor=bob, type=call_type, summary="Call Ana", record=ana, deadline=D + dt.timedelta(days=1)
    )
    timed = services.create_activity(
        actor=bob,
        type=todo_type,
        summary="Send deck",
        deadline=D + dt.timedelta(days=2),
        deadline_time=dt.time(16, 30),
    )
    return meeting, day, timed


def _feed(client, bob):
    feed = services.regenerate_feed(actor=bob)
    return feed, client.get(f"/work/calendar/{calendar.feed_token(feed)}.ics")


def test_feed_parses_back_with_fields(bob, bob_calendar):
    meeting, day, timed = bob_calendar
    cal = icalendar.Calendar.from_ical(calendar.build_feed(bob))
    assert str(cal["version"]) == "2.0" and "Kith" in str(cal["prodid"])
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    ev = events[f"{meeting.public_id}@kith"]
    assert str(ev["summary"]) == "Kick-off" and str(ev["location"]) == "HQ, room 2"
    assert str(ev["url"]) == "https://meet.example.com/k"
    assert ev["dtstart"].params["TZID"] == "Europe/Lisbon"
    assert ev.decoded("dtstart") == dt.datetime.combine(D, dt.time(10, 0), tzinfo=LISBON)
    assert ev.decoded("dtend") - ev.decoded("dtstart") == dt.timedelta(hours=1)
    assert "dtstamp" in ev
    assert str(ev["organizer"]) == "mailto:bob@kith.example"
    attendees = ev["attendee"] if isinstance(ev["attendee"], list) else [ev["attendee"]]
    assert [str(a) for a in attendees] == ["mailto:ana@example.com"]  # dan has no e-mail
    assert attendees[0].params["CN"] == "Ana Lima"
    assert {tz["tzid"] for tz in cal.walk("VTIMEZONE")} >= {"Europe/Lisbon"}
    all_day = events[f"{day.public_id}@kith"]
    assert all_day.decoded("dtstart") == D + dt.timedelta(days=1)
    assert all_day.decoded("dtend") == D + dt.timedelta(days=2)
    assert "Call Ana" in str(all_day["summary"]) and str(all_day["transp"]) == "TRANSPARENT"
    at_time = events[f"{timed.public_id}@kith"]
    assert at_time.decoded("dtstart") == dt.datetime.combine(
        D + dt.timedelta(days=2), dt.time(16, 30), tzinfo=LISBON
    )


def test_feed_url_no_login_token_rotation_and_revoke(bob, bob_calendar):
    client = Client()
    feed, r = _feed(client, bob)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/calendar")
    assert "private" in r["Cache-Control"]
    assert icalendar.Calendar.from_ical(r.content).walk("VEVENT")
    old_token = calendar.feed_token(feed)
    # Tampered tokens are not found.
    flipped = old_token[:-1] + ("1" if old_token[-1] == "0" else "0")
    assert client.get(f"/work/calendar/{flipped}.ics").status_code == 404
    assert client.get(f"/work/calendar/{feed.key}.{'0' * 40}.ics").status_code == 404
    assert client.get("/work/calendar/garbage.ics").status_code == 404
    new = services.regenerate_feed(actor=bob)
    assert calendar.feed_token(new) != old_token
    assert client.get(f"/work/calendar/{old_token}.ics").status_code == 404
    assert client.get(f"/work/calendar/{calendar.feed_token(new)}.ics").status_code == 200
    services.revoke_feed(actor=bob)
    assert client.get(f"/work/calendar/{calendar.feed_token(new)}.ics").status_code == 404


def test_feed_excludes_others_and_dies_with_deactivated_user(bob, dan, bob_calendar, todo_type):
    services.create_activity(
        actor=dan, type=todo_type, summary="Dan only", deadline=D + dt.timedelta(days=1)
    )
    feed = services.regenerate_feed(actor=bob)
    text = calendar.build_feed(bob).decode()
    assert "Call Ana" in text
    assert "Dan only" not in text
    bob.is_active = False
    bob.save()
    assert Client().get(f"/work/calendar/{calendar.feed_token(feed)}.ics").status_code == 404


def test_feed_api(api_as, bob, carol):
    client = api_as(bob)
    assert client.get("/api/calendar-feeds/me").status_code == 404
    r = client.post("/api/calendar-feeds/me")
    assert r.status_code == 201 and "/work/calendar/" in r.json()["url"]
    assert client.get("/api/calendar-feeds/me").json()["url"] == r.json()["url"]
    r2 = client.post("/api/calendar-feeds/me")
    assert r2.json()["url"] != r.json()["url"]
    assert client.delete("/api/calendar-feeds/me").status_code == 204
    assert client.get("/api/calendar-feeds/me").status_code == 404
    assert api_as(carol).post("/api/calendar-feeds/me").status_code == 404


def test_import_multi_event_recurring_file(bob, ana):
    bob.timezone = "Europe/Berlin"
    bob.save()
    report = calendar.import_ics(actor=bob, content=(DATA / "team-sync.ics").read_bytes())
    assert report.errors == []
    # kick-off + weekly sync (4 weeks minus 1 exdate = 3) + the all-day offsite
    assert report.created == 5
    kick = Meeting.objects.get(uid="kickoff-2026@example.com")
    assert kick.timezone == "Europe/Lisbon" and kick.start == dt.datetime(
        2026, 7, 10, 9, 0, tzinfo=dt.UTC
    )
    assert (
        kick.location == "Lisbon office, room 2" and kick.url == "https://meet.example.com/kickoff"
    )
    assert kick.organizer is None and kick.organizer_email == "olga@example.com"
    people = {a.party_id: a for a in kick.attendees.all() if a.party_id}
    assert list(people) == [ana.pk]  # matched on the normalised e-mail
    stranger = kick.attendees.get(email="stranger@elsewhere.org")
    assert stranger.party_id is None and stranger.response == "tentative"
    assert kick.attendees.filter(user=bob).exists()  # in the importer's own calendar
    syncs = list(
        Meeting.objects.filter(uid__startswith="weekly-sync@example.com#").order_by("start")
    )
    assert [m.start.astimezone(LISBON).strftime("%m-%d %H:%M") for m in syncs] == [
        "07-06 09:00",
        "07-20 15:00",  # the moved occurrence (RECURRENCE-ID)
        "07-27 09:00",
    ]
    assert syncs[1].title == "Weekly sync (moved)"
    offsite = Meeting.objects.get(uid="offsite-2026@example.com")
    assert offsite.timezone == "Europe/Berlin"
    assert offsite.end - offsite.start == dt.timedelta(days=2)
    # Ana attends the kick-off and two syncs (the moved one lists no attendees).
    assert Interaction.objects.filter(party=ana, channel="meeting").count() == 3
    # Importing again changes nothing.
    again = calendar.import_ics(actor=bob, content=(DATA / "team-sync.ics").read_bytes())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert Meeting.objects.count() == 5
    assert Interaction.objects.filter(party=ana, channel="meeting").count() == 3


def test_import_updates_on_new_sequence(bob):
    text = (DATA / "some-bad-events.ics").read_text()
    calendar.import_ics(actor=bob, content=text)
    changed = text.replace("SUMMARY:Good one", "SEQUENCE:2\nSUMMARY:Better one")
    report = calendar.import_ics(actor=bob, content=changed)
    assert report.updated == 1
    m = Meeting.objects.get(uid="good-one@example.com")
    assert m.title == "Better one" and m.sequence == 2


def test_import_reports_bad_events_per_event(bob):
    report = calendar.import_ics(actor=bob, content=(DATA / "some-bad-events.ics").read_bytes())
    assert report.created == 1
    problems = {p.index: p for p in report.errors}
    assert set(problems) == {2, 3, 4}
    assert "UID" in problems[2].message
    assert problems[3].uid == "backwards@example.com"
    assert "DTSTART" in problems[4].message
    assert list(Meeting.objects.values_list("uid", flat=True)) == ["good-one@example.com"]


def test_import_malformed_file(bob):
    with pytest.raises(ValidationFailed) as exc:
        calendar.import_ics(actor=bob, content=(DATA / "malformed.ics").read_bytes())
    assert exc.value.errors[0].field == "file"
    with pytest.raises(ValidationFailed):
        calendar.import_ics(actor=bob, content=b"hello, I am a CSV\n1,2,3\n")


def test_import_api(api_as, bob, vic, ana):
    content = (DATA / "team-sync.ics").read_text()
    r = api_as(bob).post("/api/meetings/import", {"content": content})
    assert r.status_code == 200, r.json()
    assert r.json()["created"] == 5 and r.json()["errors"] == []
    bad = api_as(bob).post(
        "/api/meetings/import", {"content": (DATA / "malformed.ics").read_text()}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "file"
    report = (
        api_as(bob)
        .post("/api/meetings/import", {"content": (DATA / "some-bad-events.ics").read_text()})
        .json()
    )
    assert [e["index"] for e in report["errors"]] == [2, 3, 4]
    assert api_as(vic).post("/api/meetings/import", {"content": content}).status_code == 403


def test_import_outlook_windows_zone_names(bob):
    report = calendar.import_ics(actor=bob, content=(DATA / "outlook.ics").read_bytes())
    assert report.errors == [] and report.created == 2
    outlook = Meeting.objects.get(uid="040000008200E00074C5B7101A82E00800000000")
    assert outlook.timezone == "Europe/Berlin"
    assert outlook.start == dt.datetime(2026, 7, 10, 8, 0, tzinfo=dt.UTC)
    custom = Meeting.objects.get(uid="custom-zone-1")
    # An unnamed zone keeps the right instant, shown in UTC.
    assert custom.start == dt.datetime(2026, 7, 10, 4, 30, tzinfo=dt.UTC)
    assert custom.timezone == "UTC"


def test_second_importer_keeps_first_importers_attendees(bob, dan, secret_person):
    """dan imports an invite with his private contact; bob imports the same one later."""
    from kith.people import services as people_services
    from kith.people.services import ContactInput

    people_services.add_contact_point(
        actor=dan, party=secret_person, contact=ContactInput("email", "sam@secret.example")
    )
    ics = (DATA / "some-bad-events.ics").read_text()
    ics = ics.replace(
        "SUMMARY:Good one", "SUMMARY:Good one\nATTENDEE;CN=Sam:mailto:sam@secret.example"
    )
    calendar.import_ics(actor=dan, content=ics)
    meeting = Meeting.objects.get(uid="good-one@example.com")
    assert meeting.attendees.filter(party=secret_person).exists()
    calendar.import_ics(
        actor=bob, content=ics.replace("SUMMARY:Good one", "SEQUENCE:1\nSUMMARY:Good one")
    )
    assert meeting.attendees.filter(party=secret_person).exists()
    # dan (who imported it first) stays the organiser; bob joins as an attendee.
    meeting.refresh_from_db()
    assert meeting.organizer == dan
    users = meeting.attendees.filter(user__isnull=False).values_list("user__username", flat=True)
    assert list(users) == ["bob"]


def test_cached_feed_follows_changes(bob, bob_calendar, todo_type):
    client = Client()
    feed, first = _feed(client, bob)
    url = f"/work/calendar/{calendar.feed_token(feed)}.ics"
    assert client.get(url).content == first.content  # served again, unchanged
    added = services.create_activity(actor=bob, type=todo_type, summary="Fresh task", deadline=D)
    assert b"Fresh task" in client.get(url).content
    services.update_activity(actor=bob, activity=added, summary="Renamed task")
    body = client.get(url).content
    assert b"Renamed task" in body and b"Fresh task" not in body


def test_import_api_multipart(bob):
    from tests.conftest import ApiClient

    api = ApiClient(bob)
    upload = SimpleUploadedFile("team.ics", (DATA / "team-sync.ics").read_bytes())
    r = api.client.post("/api/meetings/import-file", {"file": upload}, headers=api.headers)
    assert r.status_code == 200, r.json()
    assert r.json()["created"] == 5
    empty = SimpleUploadedFile("e.ics", b"")
    r = api.client.post("/api/meetings/import-file", {"file": empty}, headers=api.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_failed_recurring_event_is_not_counted(bob):
    text = (DATA / "team-sync.ics").read_text()
    # The moved occurrence now ends before it starts: the whole weekly series fails.
    text = text.replace(
        "DTEND;TZID=Europe/Lisbon:20260720T153000", "DTEND;TZID=Europe/Lisbon:20260720T140000"
    )
    report = calendar.import_ics(actor=bob, content=text)
    assert [p.uid for p in report.errors] == ["weekly-sync@example.com"]
    assert report.created == 2 == Meeting.objects.count() == len(report.meetings)
