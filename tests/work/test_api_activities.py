"""The activities API: create on a record, filters, complete with a follow-up, access, idempotency."""

from __future__ import annotations

import datetime as dt

from kith.work import services
from kith.work.models import Activity, ActivityType


def _new(client, **data):
    body = {"type": "call", "summary": "Call back", **data}
    return client.post("/api/activities", body)


def test_create_on_person_and_read_back(api_as, bob, ana):
    client = api_as(bob)
    r = _new(
        client, record_type="people.party", record_id=str(ana.public_id), deadline="2026-07-01"
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["party"] == str(ana.public_id) and body["record_id"] == str(ana.public_id)
    assert body["record_type"] == "people.party" and body["assignee"] == "bob"
    assert body["status"] in {"overdue", "today", "upcoming"}
    got = client.get(f"/api/activities/{body['id']}")
    assert got.status_code == 200 and got.json()["summary"] == "Call back"


def test_create_via_party_shortcut_and_errors(api_as, bob, ana, secret_person):
    client = api_as(bob)
    assert _new(client, party=str(ana.public_id)).status_code == 201
    r = _new(client, type="nope", summary="")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"
    r = _new(client, party=str(secret_person.public_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "party"
    r = _new(client, record_type="accounts.user", record_id=str(bob.public_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record_type"
    r = _new(client, record_type="people.party")
    assert r.status_code == 422
    r = _new(client, deadline_time="10:00")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deadline"
    r = _new(client, timezone="Mars/Olympus")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "timezone"


def test_filters_and_cursor(api_as, bob, dan, ana, call_type, todo_type):
    today = dt.date.today()
    for i in range(3):
        services.create_activity(
            actor=bob,
            type=call_type,
            summary=f"c{i}",
            record=ana,
            deadline=today - dt.timedelta(days=5),
        )
    services.create_activity(
        actor=bob, type=todo_type, summary="t", deadline=today + dt.timedelta(days=5)
    )
    services.create_activity(actor=dan, type=todo_type, summary="dan's", record=ana)
    client = api_as(bob)
    r = client.get("/api/activities", status="overdue", assignee="me")
    assert sorted(a["summary"] for a in r.json()["items"]) == ["c0", "c1", "c2"]
    r = client.get("/api/activities", type="todo")
    assert {a["summary"] for a in r.json()["items"]} == {"t", "dan's"}
    r = client.get("/api/activities", party=str(ana.public_id), assignee="dan")
    assert [a["summary"] for a in r.json()["items"]] == ["dan's"]
    r = client.get("/api/activities", record_type="people.party", record_id=str(ana.public_id))
    assert len(r.json()["items"]) == 4
    r = client.get(
        "/api/activities", deadline_from=str(today), deadline_to=str(today + dt.timedelta(days=9))
    )
    assert [a["summary"] for a in r.json()["items"]] == ["t"]
    page1 = client.get("/api/activities", limit=2).json()
    page2 = client.get("/api/activities", limit=2, cursor=page1["next_cursor"]).json()
    page3 = client.get("/api/activities", limit=2, cursor=page2["next_cursor"]).json()
    ids = [a["id"] for p in (page1, page2, page3) for a in p["items"]]
    assert len(ids) == len(set(ids)) == 5 and page3["next_cursor"] is None
    assert client.get("/api/activities", assignee="nobody").status_code == 422
    assert client.get("/api/activities", status="sideways").status_code == 422


def test_complete_with_next_and_idempotency(api_as, bob, ana, call_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Call", record=ana)
    client = api_as(bob)
    body = {
        "outcome": "Interested",
        "next": {"type": "email", "summary": "Send brochure", "deadline": "2026-09-01"},
    }
    headers = {"Idempotency-Key": "done-1"}
    r = client.post(f"/api/activities/{a.public_id}/complete", body, headers=headers)
    assert r.status_code == 200, r.json()
    out = r.json()
    assert out["activity"]["status"] == "done" and out["activity"]["done_by"] == "bob"
    assert out["next"]["previous"] == str(a.public_id) and out["next"]["type"] == "email"
    again = client.post(f"/api/activities/{a.public_id}/complete", body, headers=headers)
    assert again.status_code == 200 and again.json() == out
    assert Activity.objects.filter(previous=a).count() == 1
    conflict = client.post(f"/api/activities/{a.public_id}/complete", {})
    assert conflict.status_code == 409


def test_create_idempotent(api_as, bob):
    client = api_as(bob)
    h = {"Idempotency-Key": "k1"}
    r1 = client.post("/api/activities", {"type": "todo", "summary": "x"}, headers=h)
    r2 = client.post("/api/activities", {"type": "todo", "summary": "x"}, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert Activity.objects.count() == 1


def test_patch_and_delete(api_as, bob, call_type):
    a = services.create_activity(
        actor=bob,
        type=call_type,
        summary="x",
        deadline=dt.date(2026, 1, 2),
        deadline_time=dt.time(9),
    )
    client = api_as(bob)
    r = client.patch(
        f"/api/activities/{a.public_id}", {"summary": "y", "type": "todo", "deadline": None}
    )
    assert r.status_code == 200, r.json()
    assert r.json()["summary"] == "y" and r.json()["type"] == "todo"
    assert r.json()["deadline"] is None and r.json()["deadline_time"] is None
    assert client.delete(f"/api/activities/{a.public_id}").status_code == 204
    assert client.get(f"/api/activities/{a.public_id}").status_code == 404


def test_access_rules(api_as, alice, mia, bob, dan, vic, carol, ana, secret_person, call_type):
    on_secret = services.create_activity(
        actor=dan, type=call_type, summary="secret", record=secret_person
    )
    on_ana = services.create_activity(actor=dan, type=call_type, summary="ana", record=ana)
    plain = services.create_activity(actor=dan, type=call_type, summary="dan's todo")
    assigned = services.create_activity(actor=dan, type=call_type, summary="for bob", assignee=bob)
    seen = lambda u: {a["summary"] for a in api_as(u).get("/api/activities").json()["items"]}  # noqa: E731
    assert seen(bob) == {"ana", "for bob"}
    assert seen(vic) == {"ana"}
    assert seen(mia) == seen(alice) == {"secret", "ana", "dan's todo", "for bob"}
    assert api_as(bob).get(f"/api/activities/{on_secret.public_id}").status_code == 404
    assert api_as(bob).get(f"/api/activities/{plain.public_id}").status_code == 404
    assert api_as(bob).get(f"/api/activities/{assigned.public_id}").status_code == 200
    # Viewers read but never write.
    assert api_as(vic).get(f"/api/activities/{on_ana.public_id}").status_code == 200
    assert api_as(vic).post(f"/api/activities/{on_ana.public_id}/complete", {}).status_code == 403
    assert api_as(vic).post("/api/activities", {"type": "todo", "summary": "x"}).status_code == 403
    assert (
        api_as(vic).patch(f"/api/activities/{on_ana.public_id}", {"summary": "z"}).status_code
        == 403
    )
    # Portal users get nothing at all.
    portal = api_as(carol)
    assert portal.get("/api/activities").status_code == 404
    assert portal.get(f"/api/activities/{on_ana.public_id}").status_code == 404
    assert portal.post("/api/activities", {"type": "todo", "summary": "x"}).status_code == 404
    assert portal.get("/api/activity-types").status_code == 404


def test_activity_types_api(api_as, bob, mia):
    r = api_as(bob).post("/api/activity-types", {"name": "Demo"})
    assert r.status_code == 403
    r = api_as(mia).post("/api/activity-types", {"name": "Demo", "channel": "meeting"})
    assert r.status_code == 201 and r.json()["slug"] == "demo"
    slugs = [t["slug"] for t in api_as(bob).get("/api/activity-types").json()]
    assert slugs[:4] == ["call", "meeting", "email", "todo"] and "demo" in slugs
    assert ActivityType.objects.get(slug="demo").channel == "meeting"
    r = api_as(bob).post("/api/activities", {"type": "demo", "summary": "Show it"})
    assert r.status_code == 201 and r.json()["type_name"] == "Demo"


def test_openapi_lists_work_endpoints(api_as, bob):
    spec = api_as(bob).get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/api/activities",
        "/api/activities/{public_id}/complete",
        "/api/meetings",
        "/api/meetings/import",
        "/api/calendar-feeds/me",
        "/api/activity-types",
    ):
        assert path in paths, path


def test_activity_on_an_interaction_follows_its_party(api_as, bob, dan, ana, secret_person):
    from kith.interactions import services as interactions

    seen, _ = interactions.log_interaction(actor=bob, party=ana, channel="call", summary="Hi")
    hidden, _ = interactions.log_interaction(
        actor=dan, party=secret_person, channel="call", summary="Psst"
    )
    r = _new(api_as(bob), record_type="interactions.interaction", record_id=str(seen.public_id))
    assert r.status_code == 201 and r.json()["record_id"] == str(seen.public_id)
    r = _new(api_as(bob), record_type="interactions.interaction", record_id=str(hidden.public_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record_id"


def test_records_of_other_apps_follow_their_own_access_rules(api_as, bob, dan, mia, ana):
    """A deal private to dan cannot carry bob's activity; one open to everyone can.

    Models whose app offers no ``get_<model>`` are for managers and admins only."""
    from kith.sales import services as sales

    Type = ActivityType

    private = sales.create_deal(
        actor=dan, data={"title": "Dan's secret", "visibility": "private", "person": ana}
    )
    shared = sales.create_deal(actor=dan, data={"title": "Open deal", "person": ana})
    r = _new(api_as(bob), record_type="sales.deal", record_id=str(private.public_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record_id"
    r = api_as(bob).get(
        "/api/activities", record_type="sales.deal", record_id=str(private.public_id)
    )
    assert r.status_code == 422
    r = _new(api_as(bob), record_type="sales.deal", record_id=str(shared.public_id))
    assert r.status_code == 201 and r.json()["record_id"] == str(shared.public_id)
    # kith.work.access has no get_activitytype: such records are for managers and admins.
    kind = Type.objects.get(slug="todo")
    r = _new(api_as(bob), record_type="work.activitytype", record_id=str(kind.public_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record_id"
    r = _new(api_as(mia), record_type="work.activitytype", record_id=str(kind.public_id))
    assert r.status_code == 201
