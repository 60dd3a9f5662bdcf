"""Anonymous API writes answer 401 JSON (not a CSRF 403); customers get 404 on staff
endpoints; a signed-in browser session still needs its CSRF token."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.conftest import ApiClient, make_person

STAFF_CREATES = [
    ("/api/people", {"given_name": "Ana"}),
    ("/api/organizations", {"display_name": "Acme"}),
    ("/api/deals", {"title": "Deal"}),
    ("/api/cases", {"subject": "x", "requester": "00000000-0000-0000-0000-000000000000"}),
    ("/api/activities", {"summary": "x"}),
    ("/api/roles", {"slug": "x", "name": "X"}),
    ("/api/products", {"name": "X"}),
    ("/api/queues", {"name": "Q"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path,body", STAFF_CREATES)
def test_anonymous_write_is_401_json(path, body):
    response = Client().post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_anonymous_write_with_a_stale_session_cookie_is_401():
    client = Client()
    client.cookies["sessionid"] = "not-a-session"
    response = client.post("/api/people", "{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("path,body", STAFF_CREATES)
def test_customer_gets_404_on_staff_creates(carol, path, body):
    response = ApiClient(carol).post(path, body)
    assert response.status_code == 404, (path, response.status_code, response.content)


def test_customer_gets_404_on_staff_records(alice, carol):
    ana = make_person(alice)
    api = ApiClient(carol)
    assert api.get(f"/api/people/{ana.public_id}").status_code == 404
    assert api.patch(f"/api/people/{ana.public_id}", {"notes": "x"}).status_code == 404


def test_session_writes_still_need_csrf(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    refused = client.post("/api/people", json.dumps({"given_name": "Ana"}), "application/json")
    assert refused.status_code == 403
    token = "a" * 32  # an unmasked CSRF secret, as the cookie and the header carry it
    client.cookies["csrftoken"] = token
    accepted = client.post(
        "/api/people",
        json.dumps({"given_name": "Ana"}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201, accepted.content
