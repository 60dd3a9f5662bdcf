"""The ideas API: shapes, access (customers see public fields only, hidden is 404),
bad input as 4xx naming the field, idempotency, pagination."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kith.ideas import services
from kith.ideas.models import Idea, IdeaVote

pytestmark = pytest.mark.django_db


def _fields(response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


def test_customer_proposes_votes_and_reads_public_fields(api_as, carol, cyd, category, alice):
    res = api_as(carol).post(
        "/api/ideas",
        {"title": "Dark mode", "body": "Please", "category": category.slug},
        headers={"Idempotency-Key": "k1"},
    )
    assert res.status_code == 201, res.content
    again = api_as(carol).post(
        "/api/ideas",
        {"title": "Dark mode", "body": "Please", "category": category.slug},
        headers={"Idempotency-Key": "k1"},
    )
    assert again.json()["id"] == res.json()["id"] and Idea.objects.count() == 1
    pid = res.json()["id"]
    first = api_as(cyd).post(f"/api/ideas/{pid}/vote")
    second = api_as(cyd).post(f"/api/ideas/{pid}/vote")
    assert first.json() == {"voted": True, "created": True, "vote_count": 1}
    assert second.json()["vote_count"] == 1 and not second.json()["created"]
    detail = api_as(cyd).get(f"/api/ideas/{pid}").json()
    assert detail["voted"] and "links" not in detail and "value_at_stake" not in detail
    staff = api_as(alice).get(f"/api/ideas/{pid}").json()
    assert staff["links"] == [] and staff["value_at_stake"]["amount"] == "0"
    mine = api_as(cyd).get("/api/ideas/mine").json()
    assert [v["idea"]["id"] for v in mine["votes"]] == [pid]


def test_bad_input_is_a_precise_4xx(api_as, carol, bob, idea, category):
    client = api_as(carol)
    res = client.post("/api/ideas", {"title": "t" * 201, "body": "", "category": category.slug})
    assert res.status_code == 422 and _fields(res) == {"title", "body"}
    res = client.post("/api/ideas", {"title": "t", "body": "b", "category": "nope"})
    assert res.status_code == 422 and _fields(res) == {"category"}
    res = client.get("/api/ideas", rank="nope")
    assert res.status_code == 422 and _fields(res) == {"rank"}
    res = client.get("/api/ideas", status="nope")
    assert res.status_code == 422 and _fields(res) == {"status"}
    services.change_status(actor=bob, idea=idea, status="declined", note="No")
    res = client.post(f"/api/ideas/{idea.public_id}/vote")
    assert res.status_code == 422 and _fields(res) == {"idea"}
    res = api_as(bob).post(f"/api/ideas/{idea.public_id}/status", {"status": "shipped"})
    assert res.status_code == 422 and _fields(res) == {"status"}
    res = api_as(bob).post(f"/api/ideas/{idea.public_id}/merge", {"into": str(uuid.uuid4())})
    assert res.status_code == 422 and _fields(res) == {"into"}
    res = client.post(f"/api/ideas/{idea.public_id}/comments", {"body": "  "})
    assert res.status_code == 422 and _fields(res) == {"body"}


def test_access(api_as, carol, vic, idea, settings):
    assert api_as(None).get("/api/ideas").status_code == 404
    assert api_as(None).get(f"/api/ideas/{idea.public_id}").status_code == 404
    assert api_as(None).post(f"/api/ideas/{idea.public_id}/vote").status_code == 401
    settings.KITH_PORTAL_PUBLIC = True
    assert api_as(None).get(f"/api/ideas/{idea.public_id}").status_code == 200
    # Customers cannot triage (not found), viewers are forbidden, unknown ids are 404.
    assert (
        api_as(carol).post(f"/api/ideas/{idea.public_id}/status", {"status": "planned"}).status_code
        == 404
    )
    assert (
        api_as(vic).post(f"/api/ideas/{idea.public_id}/status", {"status": "planned"}).status_code
        == 403
    )
    assert api_as(carol).get(f"/api/ideas/{uuid.uuid4()}").status_code == 404


def test_staff_triage_links_and_stake(api_as, alice, bob, idea, cyd):
    from kith.sales.models import Deal, Pipeline

    pipeline = Pipeline.objects.get(is_default=True)
    stage = pipeline.stages.filter(is_won=False, is_lost=False).first()
    deal = Deal.objects.create(
        title="Big",
        amount=Decimal("2500"),
        currency="EUR",
        pipeline=pipeline,
        stage=stage,
        stage_entered_at=dt.datetime.now(dt.UTC),
        visibility="private",
        owner=alice,
    )
    client = api_as(alice)
    res = client.post(f"/api/ideas/{idea.public_id}/links", {"deal": str(deal.public_id)})
    assert res.status_code == 201, res.content
    assert res.json()["value_at_stake"]["amount"] == "2500.00"
    # Bob (an agent) may not see alice's private deal: no link, no value for him.
    bob_view = api_as(bob).get(f"/api/ideas/{idea.public_id}").json()
    assert bob_view["links"] == [] and bob_view["value_at_stake"]["amount"] == "0"
    res = api_as(bob).post(f"/api/ideas/{idea.public_id}/links", {"deal": str(deal.public_id)})
    assert res.status_code == 422 and _fields(res) == {"deal"}
    res = client.post(
        f"/api/ideas/{idea.public_id}/contributors",
        {"user": str(cyd.public_id), "contribution": "Beta tester"},
    )
    assert res.status_code == 201
    assert [c["name"] for c in res.json()["contributors"]] == ["cyd"]
    res = client.post(
        f"/api/ideas/{idea.public_id}/status", {"status": "planned", "note": "Q3 **soon**"}
    )
    assert res.status_code == 200 and res.json()["status"] == "planned"
    assert "<strong>soon</strong>" in res.json()["status_note_html"]


def test_merge_api(api_as, bob, carol, cyd, category):
    a = services.create_idea(actor=carol, title="A", body="a", category=category)
    b = services.create_idea(actor=carol, title="B", body="b", category=category)
    services.vote(actor=cyd, idea=a)
    services.vote(actor=cyd, idea=b)
    res = api_as(bob).post(f"/api/ideas/{a.public_id}/merge", {"into": str(b.public_id)})
    assert res.status_code == 200 and res.json()["vote_count"] == 1
    assert IdeaVote.objects.filter(voter=cyd).count() == 1
    res = api_as(cyd).post(f"/api/ideas/{a.public_id}/vote")
    assert res.status_code == 422 and _fields(res) == {"idea"}


def test_list_pagination(api_as, carol, category):
    for i in range(3):
        services.create_idea(actor=carol, title=f"I{i}", body="b", category=category)
    client = api_as(carol)
    first = client.get("/api/ideas", limit=2, rank="new").json()
    rest = client.get("/api/ideas", limit=2, rank="new", cursor=first["next_cursor"]).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    hot = client.get("/api/ideas", limit=2, rank="hot").json()
    more = client.get("/api/ideas", limit=2, rank="hot", cursor=hot["next_cursor"]).json()
    ids = [i["id"] for i in hot["items"] + more["items"]]
    assert len(set(ids)) == 3
    assert "value" not in first["rankings"] and "hot" in first["rankings"]
