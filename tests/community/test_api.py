"""The community API: shapes, access (404s), bad input naming the field, idempotency, pagination."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.community import services
from kith.community.models import Topic
from tests.community.conftest import make_trusted


@pytest.fixture
def topic(public_space, carol):
    return services.create_topic(
        actor=carol, space=public_space, title="Export contacts", body="How do I export?"
    )


def test_ask_answer_accept_over_the_api(api_as, public_space, carol, cyd):
    make_trusted(cyd, reputation=0)
    carol_api, cyd_api = api_as(carol), api_as(cyd)
    r = carol_api.post(
        "/api/community/topics",
        {
            "space": "help",
            "title": "Import vCard?",
            "body": "Can I import **vCard**?",
            "tags": ["Import"],
        },
    )
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    r = cyd_api.post(f"/api/community/topics/{tid}/answers", {"body": "Yes, Import > vCard"})
    assert r.status_code == 201
    aid = r.json()["id"]
    r = cyd_api.post(f"/api/community/topics/{tid}/accept", {"answer": aid})
    assert r.status_code == 403
    r = carol_api.post(f"/api/community/topics/{tid}/accept", {"answer": aid})
    assert r.status_code == 200 and r.json()["answered"]
    page = carol_api.get(f"/api/community/topics/{tid}").json()
    assert page["tags"] == ["import"]
    assert page["answers"][0]["accepted"] and page["question"]["body_html"].startswith("<p>")
    assert cyd_api.get("/api/community/me").json()["reputation"] == 15


def test_bad_input_is_a_4xx_naming_the_field(api_as, carol, topic, alice):
    api = api_as(carol)
    cases = [
        ({"space": "help", "title": "t" * 201, "body": "b"}, "title"),
        ({"space": "help", "title": "ok", "body": "   "}, "body"),
        ({"space": "nowhere", "title": "ok", "body": "b"}, "space"),
        ({"space": "help", "body": "b"}, "title"),
    ]
    for payload, field in cases:
        r = api.post("/api/community/topics", payload)
        assert r.status_code == 422, (payload, r.content)
        body = r.json()
        assert body["code"] == "validation_failed"
        assert field in [e["field"] for e in body["errors"]], body
    question = topic.posts.get()
    r = _put(api, f"/api/community/posts/{question.public_id}/vote", {"value": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "post"  # self-vote
    make_trusted(carol)
    alice_api = api_as(alice)
    alice_api.patch(f"/api/community/topics/{topic.public_id}", {"locked": True})
    r = _put(api_as(alice), f"/api/community/posts/{question.public_id}/vote", {"value": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "post"  # locked
    r = _put(api, f"/api/community/posts/{question.public_id}/vote", {"value": 5})
    assert r.status_code == 422


def _put(api, path, data):
    return api._call("put", path, data)


def test_customers_space_is_404_for_partner_and_anonymous(api_as, customer_space, carol, pat):
    topic = services.create_topic(actor=carol, space=customer_space, title="Private", body="b")
    anonymous = Client()
    assert anonymous.get(f"/api/community/topics/{topic.public_id}").status_code == 404
    assert anonymous.get(f"/api/community/spaces/{customer_space.slug}/topics").status_code == 404
    assert api_as(pat).get(f"/api/community/topics/{topic.public_id}").status_code == 404
    assert api_as(carol).get(f"/api/community/topics/{topic.public_id}").status_code == 200
    slugs = [s["slug"] for s in anonymous.get("/api/community/spaces").json()["items"]]
    assert customer_space.slug not in slugs


def test_idempotent_create_and_cursor_pagination(api_as, public_space, alice):
    api = api_as(alice)
    body = {"title": "Once", "body": "only once"}
    first = api.post("/api/community/spaces/help/topics", body, headers={"Idempotency-Key": "k1"})
    again = api.post("/api/community/spaces/help/topics", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Topic.objects.filter(title="Once").count() == 1
    for i in range(4):
        services.create_topic(actor=alice, space=public_space, title=f"T{i}", body="b")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/community/spaces/help/topics", **params).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5


def test_search_and_similar(api_as, public_space, customer_space, alice, carol):
    services.create_topic(actor=alice, space=public_space, title="Export contacts to CSV", body="x")
    services.create_topic(actor=alice, space=customer_space, title="Export invoices", body="y")
    services.create_topic(actor=alice, space=public_space, title="Calendar sync", body="ics feed")
    anonymous = Client()
    titles = [
        t["title"] for t in anonymous.get("/api/community/search", {"q": "export"}).json()["items"]
    ]
    assert titles == ["Export contacts to CSV"]
    titles = [
        t["title"]
        for t in api_as(carol).get("/api/community/search", q="exprt contacts").json()["items"]
    ]
    assert "Export contacts to CSV" in titles
    r = api_as(carol).get("/api/community/similar", q="how can I export my contacts")
    assert r.json()["items"][0]["title"] == "Export contacts to CSV"
    assert anonymous.get("/api/community/search", {"q": "x" * 301}).status_code == 422


def test_rules_edit_by_admin_only(api_as, public_space, alice, bob):
    r = api_as(bob).patch("/api/community/spaces/help/rules", {"points": {"answer_upvoted": 20}})
    assert r.status_code == 403
    r = api_as(alice).patch("/api/community/spaces/help/rules", {"points": {"answer_upvoted": 20}})
    assert r.status_code == 200 and r.json()["points"]["answer_upvoted"] == 20
    r = api_as(alice).patch("/api/community/trust-levels/0", {"posts_per_day": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "posts_per_day"


def test_openapi_lists_the_community_paths(api_as, alice):
    spec = api_as(alice).get("/api/openapi.json").json()
    paths = set(spec["paths"])
    for path in (
        "/api/community/spaces",
        "/api/community/topics",
        "/api/community/topics/{public_id}/accept",
        "/api/community/posts/{public_id}/vote",
        "/api/community/search",
        "/api/community/similar",
        "/api/community/moderation",
    ):
        assert path in paths, path
