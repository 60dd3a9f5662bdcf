"""``GET /api/people`` and ``/api/organizations`` carry a total: exact while cheap, else
the PostgreSQL planner's estimate, flagged (``kith.people.queries.count_rows``)."""

import pytest
from django.db import connection

from kith.people.models import Party
from kith.people.queries import ListCount, count_rows, planner_estimate, sampled_estimate
from kith.people.schemas import PartyPage
from tests.conftest import make_org, make_person


def _people(n: int, actor, **kwargs) -> None:
    for i in range(n):
        make_person(actor, given=f"Person{i}", family="Count", **kwargs)


def test_count_is_exact_over_all_pages(alice, api_as):
    _people(3, alice)
    make_org(alice, name="Not A Person Ltd")
    api = api_as(alice)
    first = api.get("/api/people", limit=2).json()
    assert first["count"] == 3
    assert first["count_is_estimate"] is False
    assert len(first["items"]) == 2 and first["next_cursor"]
    # The total does not depend on the page.
    second = api.get("/api/people", limit=2, cursor=first["next_cursor"]).json()
    assert second["count"] == 3 and len(second["items"]) == 1
    orgs = api.get("/api/organizations").json()
    assert orgs["count"] == 1 and orgs["count_is_estimate"] is False


def test_count_follows_filters_and_what_the_user_may_see(alice, bob, api_as):
    _people(2, alice)
    _people(3, alice, visibility="private", owner=alice)
    tagged = {"given_name": "Tagged", "family_name": "One", "tags": ["vip"]}
    assert api_as(alice).post("/api/people", tagged).status_code == 201
    assert api_as(alice).get("/api/people").json()["count"] == 6
    # bob, an agent, does not see alice's private records, nor their number.
    assert api_as(bob).get("/api/people").json()["count"] == 3
    assert api_as(alice).get("/api/people", tag="vip").json()["count"] == 1


def test_customer_gets_no_count_of_staff_records(alice, carol, api_as):
    _people(2, alice)
    response = api_as(carol).get("/api/people")
    # Either refused, or an empty list that reveals nothing about how many there are.
    if response.status_code == 200:
        assert response.json()["count"] == 0
    else:
        assert response.status_code in (403, 404)


def test_search_count_is_known_on_its_last_page(alice, api_as):
    make_person(alice, given="Zebedee", family="Quint")
    make_person(alice, given="Zebedee", family="Quintana")
    make_person(alice, given="Other", family="Person")
    api = api_as(alice)
    whole = api.get("/api/people", q="zebedee").json()
    assert whole["count"] == 2 and whole["next_cursor"] is None
    first = api.get("/api/people", q="zebedee", limit=1).json()
    assert first["count"] is None and first["next_cursor"]
    last = api.get("/api/people", q="zebedee", limit=1, cursor=first["next_cursor"]).json()
    assert last["count"] == 2 and last["next_cursor"] is None


def test_past_the_limit_the_count_is_an_estimate(alice, api_as, settings):
    settings.KITH_EXACT_COUNT_LIMIT = 3
    _people(8, alice)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE people_party")
    body = api_as(alice).get("/api/people", limit=2).json()
    assert body["count_is_estimate"] is True
    # Never below the rows the capped count saw; about the real number otherwise.
    assert 4 <= body["count"] <= 16


def test_sampled_estimate_follows_filters_and_gaps(alice, settings):
    _people(40, alice)
    _people(40, alice, visibility="private", owner=alice)
    people = Party.objects.filter(kind="person")
    Party.objects.filter(pk__in=list(people.values_list("pk", flat=True)[:20])).delete()
    # A key range within the budget is counted exactly.
    assert sampled_estimate(people, budget=1000) == ListCount(60, False)
    everyone = people.filter(visibility="everyone")
    assert sampled_estimate(everyone, budget=1000) == ListCount(20, False)
    # A sparser sample estimates it, deleted keys and filters included.
    sampled = sampled_estimate(people, budget=32)
    assert sampled.is_estimate and 30 <= sampled.value <= 90
    sampled = sampled_estimate(everyone, budget=32)
    assert sampled.is_estimate and 5 <= sampled.value <= 40
    assert sampled_estimate(Party.objects.filter(pk__lt=0), budget=8).value == 0


def test_a_small_list_is_counted_exactly_and_cheaply(
    alice, settings, django_assert_max_num_queries
):
    settings.KITH_EXACT_COUNT_LIMIT = 4
    _people(4, alice)
    with django_assert_max_num_queries(3):
        total = count_rows(Party.objects.filter(kind="person"))
    assert total == ListCount(4, False)


@pytest.mark.postgres
def test_planner_estimate_follows_the_statistics(alice):
    if connection.vendor != "postgresql":
        pytest.skip("SKIPPED ON SQLITE: planner estimates are PostgreSQL's (run with DATABASE_URL)")
    _people(30, alice)
    make_org(alice, name="Org Ltd")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_party")
    estimate = planner_estimate(Party.objects.filter(kind="person"))
    # The statistics saw 30 people and one organisation: the estimate is about 30.
    assert 20 <= estimate <= 40


def test_planner_estimate_is_none_on_sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("this checks the SQLite path")
    assert planner_estimate(Party.objects.all()) is None


def test_schema_documents_the_count():
    props = PartyPage.model_json_schema()["properties"]
    assert "estimate" in props["count"]["description"]
    assert props["count_is_estimate"]["type"] == "boolean"


def test_openapi_documents_the_count_of_people_lists(alice, api_as):
    spec = api_as(alice).get("/api/openapi.json").json()
    ref = spec["paths"]["/api/people"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    page = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"count", "count_is_estimate"} <= set(page["required"])
    assert "planner" in page["properties"]["count_is_estimate"]["description"]
