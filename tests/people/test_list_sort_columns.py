"""People list: server-side sorting (stable across pages) and per-user column choice."""

import pytest

from kith.people import list_prefs
from kith.people.models import Party, SavedView
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    return [row["party"].display_name for row in response.context["rows"]]


@pytest.fixture
def four(alice):
    # Created in this order; names not in creation order.
    return [make_person(alice, given=g, family="Test") for g in ("Cleo", "Abe", "Dina", "Bea")]


def test_default_sort_is_by_name(alice, four):
    r = client_for(alice).get("/people/")
    assert _names(r) == ["Abe Test", "Bea Test", "Cleo Test", "Dina Test"]


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("-name", ["Dina", "Cleo", "Bea", "Abe"]),
        ("newest", ["Bea", "Dina", "Abe", "Cleo"]),
        ("oldest", ["Cleo", "Abe", "Dina", "Bea"]),
    ],
)
def test_sorts(alice, four, sort, expected):
    r = client_for(alice).get("/people/", {"sort": sort})
    assert r.status_code == 200
    assert _names(r) == [f"{g} Test" for g in expected]


def test_a_sort_walks_every_page_once_even_with_equal_times(alice, monkeypatch):
    from kith.people import views

    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)
    people = [make_person(alice, given=f"P{i}", family="Same") for i in range(5)]
    # Equal creation times: the id decides, so no row is skipped or shown twice.
    Party.objects.filter(pk__in=[p.pk for p in people]).update(created_at=people[0].created_at)
    client = client_for(alice)
    seen, cursor = [], None
    while True:
        params = {"sort": "newest"} | ({"cursor": cursor} if cursor else {})
        r = client.get("/people/", params)
        seen += _names(r)
        cursor = r.context["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p.display_name for p in people)
    assert len(seen) == len(set(seen)) == 5


def test_an_unknown_sort_is_a_422_naming_the_field_not_a_500(alice, four):
    r = client_for(alice).get("/people/", {"sort": "password"})
    assert r.status_code == 422
    assert [e.field for e in r.context["filter_errors"]] == ["sort"]
    assert _names(r) == ["Abe Test", "Bea Test", "Cleo Test", "Dina Test"]


def test_the_sort_select_is_on_the_page(alice, four):
    body = client_for(alice).get("/people/", {"sort": "newest"}).content.decode()
    assert 'name="sort"' in body
    assert '<option value="newest" selected>' in body


def test_columns_default_then_chosen_and_remembered_per_user(alice, bob, four):
    client = client_for(alice)
    body = client.get("/people/").content.decode()
    assert 'data-column="owner"' not in body and 'class="party-tags"' in body
    r = client.post(
        "/people/columns/",
        {"list": "people", "columns": ["owner", "created"], "query": "sort=newest"},
    )
    assert r.status_code == 302 and r["Location"] == "/people/?sort=newest"
    body = client.get("/people/").content.decode()
    assert 'data-column="owner"' in body and 'data-column="created"' in body
    assert 'class="party-tags"' not in body and 'class="party-contact"' not in body
    # Another browser of the same user sees the same; another user keeps the defaults.
    assert 'data-column="owner"' in client_for(alice).get("/people/").content.decode()
    assert list_prefs.columns_for(bob, "people") == ["contact", "tags"]
    # The preference is not offered among the saved filter views.
    assert "columns" not in [v["name"] for v in client.get("/people/").context["saved_views"]]
    assert SavedView.objects.filter(user=alice).count() == 1


def test_bad_column_choices_are_refused(alice):
    client = client_for(alice)
    r = client.post("/people/columns/", {"list": "people", "columns": ["password"]})
    assert r.status_code == 422 and b"columns" in r.content
    r = client.post("/people/columns/", {"list": "users", "columns": ["owner"]})
    assert r.status_code == 422 and b"list" in r.content
    assert not SavedView.objects.filter(user=alice).exists()
    assert client.get("/people/columns/").status_code == 405


def test_choosing_columns_needs_a_login():
    from django.test import Client

    r = Client().post("/people/columns/", {"list": "people", "columns": ["owner"]})
    assert r.status_code in (302, 403)
    assert not SavedView.objects.exists()
