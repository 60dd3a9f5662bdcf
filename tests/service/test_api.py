"""The service API: CRUD, filters, transitions, conversation, settings, and the permission matrix."""

from __future__ import annotations

import pytest

from kith.service import services
from kith.service.models import Case, CaseMessage
from tests.service.conftest import MONDAY_10


@pytest.fixture
def case(new_case):
    return new_case()


def test_create_case_via_api_with_idempotency(api_as, bob, ana, queue, policies):
    client = api_as(bob)
    body = {
        "subject": "Broken login",
        "requester": str(ana.public_id),
        "queue": str(queue.public_id),
        "priority": "high",
        "tags": ["Login", "login"],
    }
    first = client.post("/api/cases", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.content
    again = client.post("/api/cases", body, headers={"Idempotency-Key": "k1"})
    assert again.json()["id"] == first.json()["id"]
    assert Case.objects.count() == 1
    data = first.json()
    assert data["token"] == f"[#CASE-{data['number']}]"
    assert data["tags"] == ["login"]
    assert data["status"] == "new"


def test_create_case_errors_are_field_errors(api_as, bob, queue):
    response = api_as(bob).post(
        "/api/cases", {"subject": " ", "requester": "8d1b7b3c-0000-4000-8000-000000000000"}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "requester" in fields


def test_list_filters_and_cursor(api_as, alice, bob, dan, new_case, other_queue):
    a = new_case(subject="one", assignee=bob)
    b = new_case(subject="two", priority="urgent")
    c = new_case(subject="three", queue=other_queue)
    services.change_status(actor=alice, case=c, status="resolved", at=MONDAY_10)
    client = api_as(alice)
    ids = [i["subject"] for i in client.get("/api/cases").json()["items"]]
    # ordered by next due: urgent first response (10:30) before normal (11:00)
    assert ids == ["two", "one"]
    assert [i["subject"] for i in client.get("/api/cases", status="all").json()["items"]] == [
        "two",
        "one",
        "three",
    ]
    assert [i["subject"] for i in client.get("/api/cases", assignee="bob").json()["items"]] == [
        "one"
    ]
    assert [i["subject"] for i in client.get("/api/cases", priority="urgent").json()["items"]] == [
        "two"
    ]
    assert [i["subject"] for i in client.get("/api/cases", status="resolved").json()["items"]] == [
        "three"
    ]
    assert client.get("/api/cases", status="nope").status_code == 422
    page = client.get("/api/cases", limit=1).json()
    assert page["next_cursor"]
    rest = client.get("/api/cases", limit=1, cursor=page["next_cursor"]).json()
    assert [i["subject"] for i in rest["items"]] == ["one"]
    services.check_breaches(now=MONDAY_10.replace(hour=16), notify=False)
    assert {i["subject"] for i in client.get("/api/cases", breached="true").json()["items"]} == {
        "one",
        "two",
    }
    assert a.public_id and b.public_id


def test_transition_api_rejects_illegal_move(api_as, bob, case):
    client = api_as(bob)
    bad = client.post(f"/api/cases/{case.public_id}/transitions", {"status": "closed"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"
    ok = client.post(f"/api/cases/{case.public_id}/transitions", {"status": "open"})
    assert ok.status_code == 200 and ok.json()["status"] == "open"


def test_assign_and_patch(api_as, bob, dan, case):
    client = api_as(bob)
    r = client.post(f"/api/cases/{case.public_id}/assignment", {"assignee": "dan"})
    assert r.json()["assignee"] == "dan"
    r = client.post(f"/api/cases/{case.public_id}/assignment", {"assignee": "ghost"})
    assert r.status_code == 422
    r = client.patch(
        f"/api/cases/{case.public_id}", {"priority": "urgent", "subject": "New subject"}
    )
    assert r.status_code == 200
    assert r.json()["sla_policy"] == "Urgent" and r.json()["subject"] == "New subject"


def test_messages_reply_and_note(api_as, bob, case, mailoutbox, django_capture_on_commit_callbacks):
    client = api_as(bob)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/api/cases/{case.public_id}/messages", {"kind": "reply", "body": "Hi Ana"}
        )
        assert r.status_code == 201, r.content
        r2 = client.post(
            f"/api/cases/{case.public_id}/messages", {"kind": "note", "body": "secret VIP"}
        )
        assert r2.status_code == 201
    assert len(mailoutbox) == 1
    assert "secret" not in mailoutbox[0].body
    items = client.get(f"/api/cases/{case.public_id}/messages").json()["items"]
    assert [(m["kind"], m["public"]) for m in items] == [("reply", True), ("note", False)]
    assert (
        client.post(
            f"/api/cases/{case.public_id}/messages", {"kind": "reply", "body": ""}
        ).status_code
        == 422
    )


def test_queue_calendar_policy_endpoints(api_as, alice, bob, calendar):
    client = api_as(alice)
    r = client.post(
        "/api/queues", {"name": "VIP", "assignment_rule": "round_robin", "agents": ["bob"]}
    )
    assert r.status_code == 201 and r.json()["agents"] == ["bob"]
    qid = r.json()["id"]
    r = client.patch(f"/api/queues/{qid}", {"assignment_rule": "least_loaded"})
    assert r.json()["assignment_rule"] == "least_loaded"
    assert client.post("/api/queues", {"name": "X", "agents": ["nobody"]}).status_code == 422
    r = client.post(
        "/api/calendars",
        {
            "name": "Tokyo",
            "timezone": "Asia/Tokyo",
            "weekly_hours": {"0": [["09:00", "18:00"]]},
            "holidays": [{"date": "2026-01-01", "name": "New year"}],
        },
    )
    assert r.status_code == 201 and r.json()["holidays"][0]["name"] == "New year"
    bad = client.post(
        "/api/calendars", {"name": "Bad", "timezone": "Mars/Base", "weekly_hours": {}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "timezone"
    bad = client.post(
        "/api/calendars", {"name": "Bad2", "weekly_hours": {"9": [["09:00", "10:00"]]}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "weekly_hours"
    r = client.post(
        "/api/sla-policies",
        {
            "name": "Low",
            "priority": "low",
            "first_response_minutes": 480,
            "resolution_minutes": 4800,
            "calendar": r.json()["id"],
        },
    )
    assert r.status_code == 201
    assert client.get("/api/sla-policies").json()["items"][0]["name"] == "Low"
    r = client.post(
        "/api/sla-policies",
        {"name": "Zero", "priority": "high", "first_response_minutes": 0, "resolution_minutes": 5},
    )
    assert r.status_code == 422
    # agents read but cannot manage
    agent = api_as(bob)
    assert agent.get("/api/queues").status_code == 200
    assert agent.post("/api/queues", {"name": "Mine"}).status_code == 403
    assert agent.post("/api/calendars", {"name": "Mine", "weekly_hours": {}}).status_code == 403


# ---------------------------------------------------------------- the permission matrix


@pytest.fixture
def matrix(alice, mia, bob, dan, vic, carol, ana, queue, other_queue, new_case):
    """bob is in Support; a case in Billing assigned to bob; vic (viewer) is in Support."""
    services.update_queue(actor=alice, queue=queue, changes={"agents": [bob, vic]})
    support_case = new_case(queue=queue)
    billing_assigned = new_case(queue=other_queue, assignee=bob, subject="Billing for bob")
    billing_other = new_case(queue=other_queue, subject="Billing only")
    return support_case, billing_assigned, billing_other


@pytest.mark.parametrize(
    "who,case_index,read,write",
    [
        ("alice", 2, 200, 200),  # admin sees all
        ("mia", 2, 200, 200),  # manager sees all
        ("bob", 0, 200, 200),  # agent: own queue
        ("bob", 1, 200, 200),  # agent: assigned to him in another queue
        ("bob", 2, 404, 404),  # agent: other queue, not assigned
        ("dan", 0, 404, 404),  # dan was removed from Support
        ("vic", 0, 200, 403),  # viewer: sees own queue, cannot write
        ("carol", 0, 404, 404),  # portal user: nothing from staff endpoints
    ],
)
def test_permission_matrix(request, api_as, matrix, who, case_index, read, write):
    user = request.getfixturevalue(who)
    case = matrix[case_index]
    client = api_as(user)
    assert client.get(f"/api/cases/{case.public_id}").status_code == read
    assert client.get(f"/api/cases/{case.public_id}/messages").status_code == read
    assert (
        client.post(f"/api/cases/{case.public_id}/transitions", {"status": "open"}).status_code
        == write
    )
    note = client.post(f"/api/cases/{case.public_id}/messages", {"kind": "note", "body": "x"})
    assert note.status_code == (201 if write == 200 else write)


def test_lists_are_scoped(api_as, matrix, bob, carol, vic):
    subjects = {c["subject"] for c in api_as(bob).get("/api/cases").json()["items"]}
    assert subjects == {"Printer is on fire", "Billing for bob"}
    assert api_as(carol).get("/api/cases").status_code == 404
    assert api_as(carol).get("/api/queues").status_code == 404
    assert api_as(carol).get("/api/cases/breaches").status_code == 404
    assert (
        api_as(vic)
        .post("/api/cases", {"subject": "x", "requester": str(matrix[0].requester.public_id)})
        .status_code
        == 403
    )


def test_internal_notes_never_reach_portal_users(bob, carol, carol_person, new_case):
    """Access level: the customer-facing read excludes notes; staff-facing refuses portal users."""
    from kith.core.errors import NotFound
    from kith.service import access

    case = new_case(requester=carol_person)
    services.add_message(actor=bob, case=case, kind="note", body="internal only", at=MONDAY_10)
    services.add_message(actor=bob, case=case, kind="reply", body="public answer", at=MONDAY_10)
    seen = list(access.visible_messages(carol, case).values_list("body_text", flat=True))
    assert seen == ["public answer"]
    assert list(CaseMessage.objects.public().filter(case=case).values_list("kind", flat=True)) == [
        "reply"
    ]
    with pytest.raises(NotFound):
        access.staff_messages(carol, case)
    with pytest.raises(NotFound):
        access.get_case(carol, case.public_id)


def test_delete_requires_manager(api_as, bob, mia, case):
    assert api_as(bob).delete(f"/api/cases/{case.public_id}").status_code == 403
    assert api_as(mia).delete(f"/api/cases/{case.public_id}").status_code == 204


def test_case_links_a_deal(api_as, alice, bob, ana, acme, queue, policies):
    from kith.sales import services as sales_services

    deal = sales_services.create_deal(
        actor=alice, data={"title": "Acme renewal", "organization": acme}
    )
    client = api_as(alice)
    body = {
        "subject": "About the renewal",
        "requester": str(ana.public_id),
        "deal": str(deal.public_id),
    }
    r = client.post("/api/cases", body)
    assert r.status_code == 201, r.content
    assert r.json()["deal"] == {"id": str(deal.public_id), "title": "Acme renewal"}
    missing = client.post("/api/cases", {**body, "deal": "00000000-0000-4000-8000-000000000000"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "deal"
    r = client.patch(f"/api/cases/{r.json()['id']}", {"deal": None})
    assert r.json()["deal"] is None


def test_deleting_a_requester_deletes_their_cases(api_as, mia, ana, case):
    assert api_as(mia).delete(f"/api/people/{ana.public_id}").status_code == 204
    assert not Case.objects.filter(pk=case.pk).exists()
