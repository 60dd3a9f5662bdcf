"""Meetings: validation, time zones, attendees on the timeline, API and access."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.core.errors import ValidationFailed
from kith.interactions.models import Interaction
from kith.work import services
from kith.work.models import Meeting

LISBON_10 = dt.datetime(2026, 7, 10, 10, 0)


def _input(**kw):
    base = {
        "title": "Kick-off",
        "start": LISBON_10,
        "end": LISBON_10 + dt.timedelta(hours=1),
        "timezone": "Europe/Lisbon",
    }
    return services.MeetingInput(**{**base, **kw})


def test_wall_clock_in_zone_and_timeline(bob, dan, ana):
    m = services.create_meeting(actor=bob, data=_input(parties=[ana], users=[dan], location="HQ"))
    # 10:00 in Lisbon in July is 09:00 UTC.
    assert m.start == dt.datetime(2026, 7, 10, 9, 0, tzinfo=dt.UTC)
    assert m.organizer == bob and m.uid == f"{m.public_id}@kith"
    logged = Interaction.objects.get(party=ana)
    assert logged.channel == "meeting" and logged.summary == "Meeting: Kick-off"
    assert logged.occurred_at == m.start and logged.related_id == m.pk
    # Updating without new attendees logs nothing new; adding a person logs for them only.
    other = __import__("tests.conftest", fromlist=["make_person"]).make_person(
        bob, given="Bea", family="Souza"
    )
    services.update_meeting(actor=bob, meeting=m, data=_input(parties=[ana, other], users=[dan]))
    assert Interaction.objects.filter(party=ana).count() == 1
    assert Interaction.objects.filter(party=other, channel="meeting").count() == 1
    m.refresh_from_db()
    assert m.sequence == 1


def test_validation(bob):
    with pytest.raises(ValidationFailed) as exc:
        services.create_meeting(
            actor=bob,
            data=_input(
                title="",
                end=LISBON_10 - dt.timedelta(minutes=1),
                timezone="Nowhere/Land",
                url="ftp://x",
            ),
        )
    fields = {e.field for e in exc.value.errors}
    assert {"title", "timezone", "url"} <= fields
    with pytest.raises(ValidationFailed) as exc:
        services.create_meeting(actor=bob, data=_input(end=LISBON_10))
    assert [e.field for e in exc.value.errors] == ["end"]


def test_api_crud_and_access(api_as, bob, dan, vic, carol, ana, secret_person):
    client = api_as(bob)
    body = {
        "title": "Demo",
        "start": "2026-07-10T10:00:00",
        "end": "2026-07-10T11:00:00+01:00",
        "timezone": "Europe/Lisbon",
        "attendees": [str(ana.public_id)],
        "attendee_users": ["dan"],
        "url": "https://meet.example.com/x",
    }
    r = client.post("/api/meetings", body, headers={"Idempotency-Key": "m1"})
    assert r.status_code == 201, r.json()
    out = r.json()
    assert (
        out["start"].startswith("2026-07-10T09:00:00")
        and out["start_local"] == "2026-07-10T10:00:00"
    )
    assert {a["name"] for a in out["attendees"]} == {"Ana Lima", "dan"}
    assert (
        client.post("/api/meetings", body, headers={"Idempotency-Key": "m1"}).json()["id"]
        == out["id"]
    )
    assert Meeting.objects.count() == 1
    bad = client.post("/api/meetings", {**body, "end": "2026-07-10T08:00:00", "timezone": "Nope"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"timezone"} or "end" in {
        e["field"] for e in bad.json()["errors"]
    }
    bad = client.post("/api/meetings", {**body, "end": "2026-07-10T09:00:00"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "end"
    bad = client.post("/api/meetings", {**body, "attendees": [str(secret_person.public_id)]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "attendees"
    # dan attends: sees it; vic sees Ana so sees it; carol gets nothing.
    assert api_as(dan).get(f"/api/meetings/{out['id']}").status_code == 200
    assert api_as(vic).get(f"/api/meetings/{out['id']}").status_code == 200
    assert api_as(vic).patch(f"/api/meetings/{out['id']}", {"title": "x"}).status_code == 403
    assert api_as(carol).get(f"/api/meetings/{out['id']}").status_code == 404
    assert api_as(carol).get("/api/meetings").status_code == 404
    r = client.patch(f"/api/meetings/{out['id']}", {"title": "Demo v2", "attendee_users": []})
    assert r.status_code == 200 and r.json()["title"] == "Demo v2"
    assert [a["name"] for a in r.json()["attendees"]] == ["Ana Lima"]
    assert api_as(dan).get(f"/api/meetings/{out['id']}").status_code == 200  # sees Ana
    listed = client.get("/api/meetings", party=str(ana.public_id)).json()["items"]
    assert [m["id"] for m in listed] == [out["id"]]
    assert client.get("/api/meetings", user="dan").json()["items"] == []
    assert client.delete(f"/api/meetings/{out['id']}").status_code == 204
    assert not Meeting.objects.exists()


def test_private_meeting_hidden_from_other_agents(api_as, bob, dan):
    m = services.create_meeting(actor=dan, data=_input())
    assert api_as(bob).get(f"/api/meetings/{m.public_id}").status_code == 404
    assert api_as(bob).get("/api/meetings").json()["items"] == []
