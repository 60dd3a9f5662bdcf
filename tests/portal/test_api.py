"""The portal API (/api/portal/...): a customer's profile, cases and notifications."""

from __future__ import annotations

import json

from django.test import Client

from kith.service import services
from kith.service.models import Case, CaseMessage
from tests.conftest import client_for


def _post(client: Client, path: str, data: dict, **headers):
    return client.post(path, json.dumps(data), content_type="application/json", headers=headers)


def test_staff_and_anonymous_get_nothing_from_the_portal_api(bob):
    assert client_for(bob).get("/api/portal/cases").status_code == 404
    assert client_for(bob).get("/api/portal/profile").status_code == 404
    assert Client().get("/api/portal/cases").status_code == 401


def test_profile_read_and_update(carol):
    client = client_for(carol)
    profile = client.get("/api/portal/profile").json()
    assert profile["display_name"] == "Carol Customer"
    assert profile["email"] == "carol@example.com"  # her Person's, her login has none
    response = client.patch(
        "/api/portal/profile",
        {"given_name": "Caro", "family_name": "Line", "locale": "fr", "timezone": "Europe/Paris"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Caro Line"
    assert response.json()["timezone"] == "Europe/Paris"
    bad = client.patch(
        "/api/portal/profile",
        {"given_name": "A", "timezone": "Nowhere/City"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "timezone", "message": "Not a known time zone."}]


def test_create_case_is_idempotent(carol):
    client = client_for(carol)
    data = {"subject": "Broken", "body": "It is broken."}
    first = _post(client, "/api/portal/cases", data, **{"Idempotency-Key": "k1"})
    again = _post(client, "/api/portal/cases", data, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1
    assert first.json()["messages"][0]["body"] == "It is broken."
    assert first.json()["mine"] is True


def test_create_case_bad_input_names_the_field(carol):
    client = client_for(carol)
    response = _post(client, "/api/portal/cases", {"subject": "x" * 301, "body": "b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "subject"
    response = _post(client, "/api/portal/cases", {"subject": "Fine", "body": "   "})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "message": "This field is required."}]
    assert not Case.objects.exists()


def test_reply_close_rate_through_the_api(carol, alice):
    client = client_for(carol)
    case_id = _post(client, "/api/portal/cases", {"subject": "S", "body": "B"}).json()["id"]
    reply = _post(
        client,
        f"/api/portal/cases/{case_id}/messages",
        {"body": "more"},
        **{"Idempotency-Key": "r"},
    )
    assert reply.status_code == 201 and reply.json()["mine"] is True
    _post(
        client,
        f"/api/portal/cases/{case_id}/messages",
        {"body": "more"},
        **{"Idempotency-Key": "r"},
    )
    assert CaseMessage.objects.filter(case__public_id=case_id).count() == 2
    assert _post(client, f"/api/portal/cases/{case_id}/rating", {"rating": 5}).status_code == 409
    closed = _post(client, f"/api/portal/cases/{case_id}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    bad = _post(client, f"/api/portal/cases/{case_id}/rating", {"rating": 6})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
    rated = _post(client, f"/api/portal/cases/{case_id}/rating", {"rating": 4, "comment": "ok"})
    assert rated.status_code == 201 and rated.json()["rating"] == 4
    assert client.get(f"/api/portal/cases/{case_id}").json()["rating"] == 4


def test_case_list_filters_and_paginates(carol):
    for n in range(3):
        services.open_case_as_customer(actor=carol, subject=f"Case {n}", body="b")
    client = client_for(carol)
    first = client.get("/api/portal/cases", {"limit": 2}).json()
    assert [c["subject"] for c in first["items"]] == ["Case 2", "Case 1"]
    rest = client.get("/api/portal/cases", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["subject"] for c in rest["items"]] == ["Case 0"] and rest["next_cursor"] is None
    assert client.get("/api/portal/cases", {"status": "closed"}).json()["items"] == []
    bad = client.get("/api/portal/cases", {"status": "weird"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_notifications_render_markdown_sanitised_and_mark_read(carol):
    from kith.collab import services as collab_services

    collab_services.notify(
        user=carol, verb="system", text="**Bold** <script>alert(1)</script>", url="/portal/"
    )
    client = client_for(carol)
    body = client.get("/api/portal/notifications").json()
    assert body["unread"] == 1
    html = body["items"][0]["html"]
    assert "<strong>Bold</strong>" in html and "<script>" not in html
    page = client.get("/portal/notifications/").content.decode()
    assert "<strong>Bold</strong>" in page and "<script>alert(1)" not in page
    marked = _post(client, "/api/portal/notifications/read", {})
    assert marked.json() == {"marked": 1, "unread": 0}
