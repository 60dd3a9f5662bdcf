"""The listening API: who may do what, sources and keywords, the queue's order and actions
(assign, reply, convert to case / idea / deal, dismiss, spam, bulk)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.interactions.models import Interaction
from kith.listening import pipeline, services
from kith.listening.incoming import IncomingMention
from kith.listening.models import Mention, Source
from kith.people.models import ContactPoint
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sentiment(monkeypatch):
    def score(texts):
        return [("negative", 0.9) if "broken" in t else ("positive", 0.9) for t in texts]

    monkeypatch.setattr(pipeline, "score_sentiment", score)


@pytest.fixture
def source(alice) -> Source:
    return services.create_source(actor=alice, data={"kind": "webhook", "name": "Hook"}).source


@pytest.fixture
def ana(alice):
    person = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    ContactPoint.objects.create(
        party=person, channel="mastodon", value="@ana@m.social", normalized="ana@m.social"
    )
    return person


def ingest(source, *specs):
    now = timezone.now()
    items = [
        IncomingMention(
            external_id=ext,
            text=text,
            channel="mastodon",
            author_handle=handle,
            author_followers=followers,
            published_at=now - dt.timedelta(hours=age_h),
        )
        for ext, text, handle, followers, age_h in specs
    ]
    services.ingest(source, items)
    return {m.external_id: m for m in Mention.objects.all()}


def test_roles_customer_and_anonymous_get_nothing(api_as, source, alice, bob, vic, carol):
    ms = ingest(source, ("1", "the app is broken", "@x@m.social", 10, 0))
    mid = ms["1"].public_id
    assert api_as(None).get("/api/listening/mentions").status_code == 401
    for path in (
        "/api/listening/mentions",
        "/api/listening/queue",
        "/api/listening/sources",
        f"/api/listening/mentions/{mid}",
        f"/api/listening/sources/{source.public_id}",
    ):
        assert api_as(carol).get(path).status_code == 404, path
        assert api_as(vic).get(path).status_code == 200, path
    assert api_as(carol).post(f"/api/listening/mentions/{mid}/dismiss").status_code == 404
    assert api_as(vic).post(f"/api/listening/mentions/{mid}/dismiss").status_code == 403
    assert (
        api_as(bob).post("/api/listening/sources", {"kind": "feed", "name": "F"}).status_code == 403
    )
    assert api_as(bob).post("/api/listening/keywords", {"term": "acme"}).status_code == 403
    assert api_as(bob).post(f"/api/listening/mentions/{mid}/dismiss").status_code == 200


def test_source_crud_and_the_webhook_secret_shown_once(api_as, mia):
    api = api_as(mia)
    r = api.post("/api/listening/sources", {"kind": "webhook", "name": " Partner  feed "})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "Partner feed" and body["webhook_secret"].startswith("whsec_")
    assert body["webhook_url"] == f"/api/listening/webhooks/{body['id']}"
    got = api.get(f"/api/listening/sources/{body['id']}").json()
    assert "webhook_secret" not in got or got.get("webhook_secret") is None
    bad = api.patch(f"/api/listening/sources/{body['id']}", {"poll_interval_seconds": 5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "poll_interval_seconds"
    assert api.patch(f"/api/listening/sources/{body['id']}", {"name": None}).status_code == 422
    ok = api.patch(f"/api/listening/sources/{body['id']}", {"first_response_minutes": 30})
    assert ok.json()["first_response_minutes"] == 30
    assert (
        api.post("/api/listening/sources", {"kind": "fax", "name": "x"}).json()["errors"][0][
            "field"
        ]
        == "kind"
    )
    assert api.delete(f"/api/listening/sources/{body['id']}").status_code == 204
    assert not Source.objects.exists()


def test_keywords(api_as, alice, bob):
    api = api_as(alice)
    assert (
        api.post("/api/listening/keywords", {"term": "Acme", "is_competitor": False}).status_code
        == 201
    )
    dup = api.post("/api/listening/keywords", {"term": " acme "})
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "term"
    kid = api.post("/api/listening/keywords", {"term": "Globex", "is_competitor": True}).json()[
        "id"
    ]
    assert [k["term"] for k in api_as(bob).get("/api/listening/keywords").json()] == [
        "Acme",
        "Globex",
    ]
    assert api.patch(f"/api/listening/keywords/{kid}", {"active": False}).json()["active"] is False
    assert api.delete(f"/api/listening/keywords/{kid}").status_code == 204


def test_queue_orders_by_negativity_influence_and_recency(api_as, source, bob):
    ingest(
        source,
        ("calm", "I like it a lot", "@a@m.social", 50_000, 0),
        ("angry-small", "checkout is broken", "@b@m.social", 5, 0),
        ("angry-star", "login is broken for me", "@c@m.social", 90_000, 0),
        ("angry-star-old", "search has been broken", "@d@m.social", 90_000, 72),
    )
    r = api_as(bob).get("/api/listening/queue")
    order = [m["external_id"] for m in r.json()["items"]]
    assert order == ["angry-star", "angry-small", "angry-star-old", "calm"]
    page = api_as(bob).get("/api/listening/queue", limit=2).json()
    rest = api_as(bob).get("/api/listening/queue", limit=2, cursor=page["next_cursor"]).json()
    assert [m["external_id"] for m in page["items"] + rest["items"]] == order
    bad = api_as(bob).get("/api/listening/queue", status="replied")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert (
        api_as(bob).get("/api/listening/mentions", sentiment="angry").json()["errors"][0]["field"]
        == "sentiment"
    )
    negatives = api_as(bob).get("/api/listening/mentions", sentiment="negative").json()["items"]
    assert len(negatives) == 3


def test_assign_reply_dismiss_spam_reopen_and_conflicts(api_as, source, bob, mia):
    ms = ingest(
        source,
        ("1", "checkout is broken", "@b@m.social", 5, 0),
        ("2", "login is broken", "@c@m.social", 5, 0),
        ("3", "spam spam buy now", "@s@m.social", 5, 0),
    )
    api = api_as(bob)
    url = "/api/listening/mentions/{}/{}"
    r = api.post(url.format(ms["1"].public_id, "assign"), {"assignee": "mia"})
    assert r.json()["assignee"] == "mia" and r.json()["status"] == "assigned"
    bad = api.post(url.format(ms["1"].public_id, "assign"), {"assignee": "nobody"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "assignee"
    bad = api.post(url.format(ms["1"].public_id, "reply"), {"url": "javascript:alert(1)"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"
    r = api.post(url.format(ms["1"].public_id, "reply"), {"url": "https://m.social/@acme/9"})
    assert r.json()["status"] == "replied" and r.json()["reply_url"] == "https://m.social/@acme/9"
    assert r.json()["responded_at"] is not None
    again = api.post(url.format(ms["1"].public_id, "dismiss"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert api.post(url.format(ms["2"].public_id, "dismiss")).json()["status"] == "dismissed"
    assert api.post(url.format(ms["3"].public_id, "spam")).json()["status"] == "spam"
    assert api.post(url.format(ms["3"].public_id, "reopen")).json()["status"] == "new"
    queue = [m["external_id"] for m in api.get("/api/listening/queue").json()["items"]]
    assert queue == ["3"]


def test_convert_to_case_links_both_ways_and_lands_on_the_timeline(api_as, source, ana, bob):
    from kith.service.models import Case

    ms = ingest(source, ("1", "my order arrived broken", "@ana@m.social", 10, 0))
    r = api_as(bob).post(f"/api/listening/mentions/{ms['1'].public_id}/convert", {"kind": "case"})
    assert r.status_code == 200, r.content
    case = Case.objects.get()
    assert case.requester == ana and case.origin == "social" and case.priority == "high"
    assert r.json()["status"] == "converted" and r.json()["converted_kind"] == "case"
    assert r.json()["converted_url"] == f"/service/cases/{case.public_id}/"
    m = Mention.objects.get()
    assert (m.converted_kind, m.converted_id) == ("case", case.pk)
    kinds = set(Interaction.objects.filter(party=ana).values_list("kind", flat=True))
    assert "mention" in kinds


def test_convert_needs_a_person_for_a_case_and_takes_one(api_as, source, ana, bob):
    ms = ingest(source, ("1", "broken again", "@who@m.social", 10, 0))
    path = f"/api/listening/mentions/{ms['1'].public_id}/convert"
    r = api_as(bob).post(path, {"kind": "case"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "person"
    assert api_as(bob).post(path, {"kind": "nope"}).json()["errors"][0]["field"] == "kind"
    r = api_as(bob).post(path, {"kind": "deal", "person": str(ana.public_id)})
    assert r.status_code == 200, r.content
    assert r.json()["person"]["id"] == str(ana.public_id)
    assert r.json()["converted_url"].startswith("/sales/deals/")
    # The mention now sits on Ana's timeline too.
    assert Interaction.objects.filter(party=ana, kind="mention").exists()


def test_convert_to_idea(api_as, source, alice, bob):
    from kith.ideas import services as idea_services
    from kith.ideas.models import Idea

    idea_services.create_category(actor=alice, name="Product")
    ms = ingest(source, ("1", "please add dark mode, I would love it", "@x@m.social", 10, 0))
    r = api_as(bob).post(f"/api/listening/mentions/{ms['1'].public_id}/convert", {"kind": "idea"})
    assert r.status_code == 200, r.content
    idea = Idea.objects.get()
    assert "dark mode" in idea.body and r.json()["converted_url"] == f"/ideas/{idea.public_id}/"


def test_bulk_actions_report_each_failure(api_as, source, bob):
    ms = ingest(
        source,
        ("1", "checkout is broken", "@b@m.social", 5, 0),
        ("2", "login is broken", "@c@m.social", 5, 0),
    )
    api = api_as(bob)
    api.post(f"/api/listening/mentions/{ms['2'].public_id}/spam")
    ids = [str(ms["1"].public_id), str(ms["2"].public_id), "00000000-0000-0000-0000-000000000001"]
    r = api.post("/api/listening/mentions/bulk", {"ids": ids, "action": "dismiss"})
    assert r.status_code == 200
    assert r.json()["done"] == [ids[0]]
    assert {f["id"] for f in r.json()["failed"]} == set(ids[1:])
    bad = api.post("/api/listening/mentions/bulk", {"ids": ids, "action": "explode"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"
