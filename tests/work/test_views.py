"""Web UI: My day with quick complete, forms with inline errors, meetings, import, calendar."""

from __future__ import annotations

import datetime as dt
import pathlib

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.interactions.models import Interaction
from kith.work import queries, services
from kith.work.models import Activity, CalendarFeed, Meeting
from tests.conftest import login

DATA = pathlib.Path(__file__).parent / "data"


def test_my_day_lists_and_quick_completes(bob, ana, call_type, todo_type):
    today = queries.today_for(bob)
    late = services.create_activity(
        actor=bob,
        type=call_type,
        summary="Call Ana back",
        record=ana,
        deadline=today - dt.timedelta(days=1),
    )
    services.create_activity(actor=bob, type=todo_type, summary="Write notes", deadline=today)
    client = login(bob)
    page = client.get("/work/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Call Ana back" in html and "Write notes" in html and "Overdue" in html
    r = client.post(
        f"/work/activities/{late.public_id}/complete/",
        {"quick": "1"},
        headers={"HX-Request": "true", "HX-Target": f"activity-{late.public_id}"},
    )
    assert r.status_code == 200 and "logged on the timeline" in r.content.decode()
    late.refresh_from_db()
    assert late.done_at is not None
    assert Interaction.objects.filter(party=ana, kind="activity").exists()
    # The person's page shows it on the timeline.
    person = client.get(f"/people/{ana.public_id}/")
    assert "Call: Call Ana back" in person.content.decode()


def test_new_activity_on_person_from_query_string(bob, ana):
    client = login(bob)
    page = client.get(f"/work/activities/new/?party={ana.public_id}")
    assert page.status_code == 200 and "Ana Lima" in page.content.decode()
    bad = client.post(
        "/work/activities/new/", {"type": "call", "summary": "", "party": ana.public_id}
    )
    assert bad.status_code == 422 and "field-errors" in bad.content.decode()
    bad = client.post(
        "/work/activities/new/",
        {"type": "call", "summary": "x", "deadline_time": "10:00", "party": ana.public_id},
    )
    assert bad.status_code == 422 and "needs a deadline date" in bad.content.decode()
    ok = client.post(
        "/work/activities/new/",
        {"type": "call", "summary": "Ring Ana", "deadline": "2026-07-01", "party": ana.public_id},
    )
    assert ok.status_code == 302
    a = Activity.objects.get(summary="Ring Ana")
    assert a.party == ana and a.record_id == ana.pk and a.assignee == bob
    assert client.get(ok["Location"]).status_code == 200


def test_complete_with_next_from_detail_page(bob, ana, call_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Call", record=ana)
    client = login(bob)
    r = client.post(
        f"/work/activities/{a.public_id}/complete/",
        {
            "outcome": "Keen",
            "next_type": "email",
            "next_summary": "Send quote",
            "next_deadline": "2026-08-01",
        },
    )
    assert r.status_code == 302
    follow = Activity.objects.get(previous=a)
    assert follow.summary == "Send quote" and follow.type.slug == "email"
    detail = client.get(f"/work/activities/{follow.public_id}/").content.decode()
    assert "Chain" in detail and "Call" in detail


def test_edit_and_list_filters(bob, dan, ana, call_type, todo_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Mine", record=ana)
    services.create_activity(actor=dan, type=todo_type, summary="Dan's", record=ana)
    client = login(bob)
    html = client.get("/work/activities/?assignee=me").content.decode()
    assert "Mine" in html and "Dan&#x27;s" not in html
    html = client.get(f"/work/activities/?party={ana.public_id}&type=todo").content.decode()
    assert "Dan&#x27;s" in html and ">Mine<" not in html
    r = client.post(f"/work/activities/{a.public_id}/edit/", {"type": "todo", "summary": "Mine v2"})
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.summary == "Mine v2" and a.type.slug == "todo"


def test_meeting_form_and_pages(bob, ana):
    client = login(bob)
    assert client.get(f"/work/meetings/new/?party={ana.public_id}").status_code == 200
    bad = client.post(
        "/work/meetings/new/",
        {
            "title": "Demo",
            "start": "2026-07-10T10:00",
            "end": "2026-07-10T09:00",
            "timezone": "Nowhere",
        },
    )
    assert bad.status_code == 422
    body = bad.content.decode()
    assert "Not a time zone name" in body
    ok = client.post(
        "/work/meetings/new/",
        {
            "title": "Demo",
            "start": "2026-07-10T10:00",
            "end": "2026-07-10T11:00",
            "timezone": "Europe/Lisbon",
            "attendees": [str(ana.public_id)],
            "location": "HQ",
        },
    )
    assert ok.status_code == 302, ok.content.decode()[:2000]
    m = Meeting.objects.get()
    assert m.start == dt.datetime(2026, 7, 10, 9, 0, tzinfo=dt.UTC)
    assert client.get(ok["Location"]).status_code == 200
    assert client.get("/work/meetings/?when=past").status_code == 200
    assert client.get(f"/work/meetings/{m.public_id}/edit/").status_code == 200
    page = client.get(f"/work/meetings/{m.public_id}/").content.decode()
    assert f"/work/meetings/{m.public_id}/delete/" in page
    assert client.get(f"/work/meetings/{m.public_id}/delete/").status_code == 405
    gone = client.post(f"/work/meetings/{m.public_id}/delete/", follow=True)
    assert gone.redirect_chain[-1][0] == "/work/meetings/"
    assert "Meeting “Demo” deleted." in gone.content.decode()
    assert not Meeting.objects.exists()


def test_delete_activity_from_its_page(bob, vic, ana, call_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Call back", record=ana)
    viewer = login(vic)
    assert (
        f"/work/activities/{a.public_id}/delete/"
        not in viewer.get(f"/work/activities/{a.public_id}/").content.decode()
    )
    assert viewer.post(f"/work/activities/{a.public_id}/delete/").status_code == 403
    assert Activity.objects.filter(pk=a.pk).exists()
    gone = login(bob).post(f"/work/activities/{a.public_id}/delete/", follow=True)
    assert gone.redirect_chain[-1][0] == "/work/activities/"
    assert "Activity “Call back” deleted." in gone.content.decode()
    assert not Activity.objects.filter(pk=a.pk).exists()


def test_import_screen(bob, ana):
    client = login(bob)
    assert client.get("/work/meetings/import/").status_code == 200
    upload = SimpleUploadedFile("bad.ics", (DATA / "some-bad-events.ics").read_bytes())
    r = client.post("/work/meetings/import/", {"file": upload})
    html = r.content.decode()
    assert r.status_code == 200 and "backwards@example.com" in html and "1</strong> created" in html
    r = client.post(
        "/work/meetings/import/",
        {"file": SimpleUploadedFile("m.ics", (DATA / "malformed.ics").read_bytes())},
    )
    assert r.status_code == 422 and "Not an iCalendar file" in r.content.decode()


def test_calendar_settings(bob):
    client = login(bob)
    assert "no calendar address yet" in client.get("/work/calendar/").content.decode()
    client.post("/work/calendar/", {"action": "regenerate"})
    feed = CalendarFeed.objects.get(user=bob)
    html = client.get("/work/calendar/").content.decode()
    assert f"/work/calendar/{feed.key}." in html and "webcal://" in html
    client.post("/work/calendar/", {"action": "revoke"})
    assert not CalendarFeed.objects.exists()


def test_portal_and_viewer(carol, vic, ana, bob, call_type):
    a = services.create_activity(actor=bob, type=call_type, summary="x", record=ana)
    portal = login(carol)
    for url in (
        "/work/",
        "/work/activities/",
        f"/work/activities/{a.public_id}/",
        "/work/calendar/",
    ):
        # Customers are sent to the portal, whatever the staff URL (nothing leaks).
        response = portal.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/", url
    viewer = login(vic)
    assert viewer.get("/work/").status_code == 200
    assert viewer.get(f"/work/activities/{a.public_id}/").status_code == 200
    assert viewer.get("/work/activities/new/").status_code == 403
    assert viewer.post(f"/work/activities/{a.public_id}/complete/", {}).status_code == 403
    assert Client().get("/work/").status_code == 302  # to the login page


def test_forms_validate_inline_over_htmx(bob, ana):
    client = login(bob)
    hx = {"HX-Request": "true"}
    bad = client.post("/work/activities/new/", {"type": "call", "summary": ""}, headers=hx)
    assert bad.status_code == 422 and 'id="work-form"' in bad.content.decode()
    ok = client.post(
        "/work/activities/new/",
        {"type": "call", "summary": "Ring", "party": ana.public_id},
        headers=hx,
    )
    assert ok.status_code == 200 and ok["HX-Redirect"].startswith("/work/activities/")
