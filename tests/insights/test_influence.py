"""The influence graph from Kith's records: the worker run, scores, API, pages, access."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from kith.collab.models import Comment, Mention, Post
from kith.insights import queries, services
from kith.insights.models import InfluenceRun
from kith.interactions.models import Interaction
from kith.people.models import Party, Relationship, RoleType
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


def _post(author: Party, target: Party, when=None) -> Post:
    post = Post.objects.create(
        target_type=ContentType.objects.get_for_model(Party),
        target_id=target.pk,
        author_party=author,
        body_markdown="hi",
        body_html="<p>hi</p>",
    )
    if when:
        Post.objects.filter(pk=post.pk).update(created_at=when)
    return post


def _mention(author: Party, mentioned: Party) -> None:
    Mention.objects.create(post=_post(author, mentioned), party=mentioned)


def _thread(record: Party, *people: Party) -> None:
    ct = ContentType.objects.get_for_model(Party)
    for p in people:
        Interaction.objects.create(
            party=p,
            channel="community",
            occurred_at=timezone.now(),
            summary="took part",
            related_type=ct,
            related_id=record.pk,
        )


@pytest.fixture
def town(db):
    """Two groups (a star around Hub, a pair) joined through Link; Zed is alone."""
    names = ["Hub", "Ann", "Ben", "Cat", "Link", "Dan", "Eve", "Zed"]
    p = {n: make_person(None, given=n, family="Town") for n in names}
    for n in ("Ann", "Ben", "Cat", "Link"):
        _mention(p[n], p["Hub"])
    Comment.objects.create(
        post=_post(p["Hub"], p["Hub"]), author_party=p["Ann"], body_markdown="x", body_html="x"
    )
    _thread(p["Zed"], p["Link"], p["Dan"], p["Eve"])
    role = RoleType.objects.create(slug="referred", name="Referred")
    Relationship.objects.create(subject=p["Dan"], role=role, object=p["Eve"])
    return p


def _run(actor=None) -> InfluenceRun:
    run = services.request_influence_run(actor=actor)
    run.refresh_from_db()
    return run


def test_run_scores_people_and_the_most_mentioned_leads(town, alice):
    run = _run(alice)
    assert run.status == "done" and run.percent == 100
    assert run.edge_sources["mention"] == 4
    assert run.edge_sources["reply"] == 1
    assert run.edge_sources["referral"] == 1
    assert run.edge_sources["thread"] == 6
    assert run.node_count == 7  # Zed has no ties: not in the graph
    scores = queries.influence_score([p.pk for p in town.values()])
    assert town["Zed"].pk not in scores
    assert scores[town["Hub"].pk] == 1.0
    assert all(0 < s <= 1 for s in scores.values())
    assert max(scores, key=scores.get) == town["Hub"].pk
    # Link sits between Hub's circle and Dan/Eve's thread.
    bridges = {s.party.given_name: s for s in queries.bridges(alice, queries.latest_run())}
    assert "Link" in bridges and bridges["Link"].neighbour_communities >= 2
    assert not {"Ann", "Ben", "Cat", "Zed"} & set(bridges)


def test_old_ties_count_less(db, alice):
    # C mentions A today and B two years ago: C's endorsement goes mostly to A.
    a, b, c = (make_person(None, given=n, family="Age") for n in "ABC")
    old = timezone.now() - dt.timedelta(days=720)
    Mention.objects.create(post=_post(c, a), party=a)
    Mention.objects.create(post=_post(c, b, when=old), party=b)
    Mention.objects.filter(party=b).update(created_at=old)
    _run(alice)
    scores = queries.influence_score([a.pk, b.pk])
    assert scores[a.pk] > scores[b.pk]


def test_no_interactions_gives_a_clear_empty_result(db, alice):
    make_person(None, given="Lonely", family="One")
    run = _run(alice)
    assert run.status == "done"
    assert run.node_count == 0 and run.edge_count == 0
    assert "No interactions between people" in run.message
    assert queries.influence_score([1, 2, 3]) == {}
    body = client_for(alice).get("/insights/").content.decode()
    assert "No interactions between people" in body


def test_a_second_request_while_one_is_queued_is_a_conflict(db, alice, api_as):
    InfluenceRun.objects.create(status="queued")
    response = api_as(alice).post("/api/insights/influence/runs", {})
    assert response.status_code == 409
    assert InfluenceRun.objects.count() == 1


def test_bad_parameters_are_a_4xx_naming_the_field(db, alice, api_as):
    response = api_as(alice).post("/api/insights/influence/runs", {"half_life_days": 0})
    assert response.status_code == 422
    assert "half_life_days" in response.content.decode()
    assert not InfluenceRun.objects.exists()


def test_api_influencers_bridges_person_and_progress(town, alice, bob, api_as):
    created = api_as(alice).post("/api/insights/influence/runs", {"half_life_days": 90})
    assert created.status_code == 202, created.content
    data = api_as(bob).get("/api/insights/influence").json()
    assert data["run"]["status"] == "done"
    assert data["influencers"][0]["name"] == town["Hub"].display_name
    assert str(town["Link"].public_id) in {b["person"] for b in data["bridges"]}
    latest = api_as(bob).get("/api/insights/influence/runs/latest").json()
    assert latest["percent"] == 100 and latest["half_life_days"] == 90
    person = api_as(bob).get(f"/api/insights/influence/people/{town['Ann'].public_id}").json()
    assert person["score"]["community"] >= 1
    assert person["community_influencers"]
    community = person["score"]["community"]
    only = api_as(bob).get("/api/insights/influence", community=community).json()
    assert {s["community"] for s in only["influencers"]} == {community}


def test_only_managers_and_admins_recompute_and_customers_see_nothing(town, bob, carol, api_as):
    assert api_as(bob).post("/api/insights/influence/runs", {}).status_code == 403
    assert api_as(carol).get("/api/insights/influence").status_code in (401, 404)
    assert not InfluenceRun.objects.exists()
    response = client_for(carol).get("/insights/")
    assert response.status_code == 302 and "/insights" not in response["Location"]


def test_people_a_user_may_not_see_are_left_out(db, alice, bob, dan, api_as):
    hidden = make_person(dan, given="Secret", family="Boss", visibility="private", owner=dan)
    fans = [make_person(None, given=n, family="Fan") for n in ("F1", "F2")]
    for f in fans:
        _mention(f, hidden)
    _run(alice)
    names = [s["name"] for s in api_as(bob).get("/api/insights/influence").json()["influencers"]]
    assert hidden.display_name not in names and names
    names = [s["name"] for s in api_as(alice).get("/api/insights/influence").json()["influencers"]]
    assert names[0] == hidden.display_name
    url = f"/api/insights/influence/people/{hidden.public_id}"
    assert api_as(bob).get(url).status_code == 404


def test_pages_show_influencers_bridges_and_the_person_panel(town, alice, bob):
    _run(alice)
    page = client_for(bob).get("/insights/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hub Town" in html and "Bridges between communities" in html
    assert "Recompute" not in html  # an agent may not recompute
    assert "Recompute" in client_for(alice).get("/insights/").content.decode()
    person = client_for(bob).get(f"/people/{town['Ann'].public_id}/").content.decode()
    assert 'id="influence-panel"' in person and "Influencers in this community" in person
    zed = client_for(bob).get(f"/people/{town['Zed'].public_id}/").content.decode()
    assert 'id="influence-panel"' not in zed


def test_recompute_from_the_page_runs_and_shows_progress(town, alice):
    client = client_for(alice)
    response = client.post("/insights/influence/recompute/")
    assert response.status_code == 302
    assert InfluenceRun.objects.get().status == "done"
    fragment = client.get("/insights/influence/progress/").content.decode()
    assert "7 people" in fragment
    assert client_for(alice).get("/insights/?community=abc").status_code == 200


def test_the_worker_recomputes_daily_and_skips_while_one_runs(town):
    from kith.core import worker

    job = worker.periodic_jobs()["insights.influence"]
    assert job.every_seconds == 24 * 3600
    job.func()
    assert InfluenceRun.objects.get().status == "done"
    InfluenceRun.objects.create(status="queued")
    job.func()  # a conflict, swallowed: no third run
    assert InfluenceRun.objects.count() == 2
