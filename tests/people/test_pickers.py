"""Record pickers: a type-ahead over the search service instead of a capped list.

Before, the deal's person and the meeting's attendees were ``<select>``s of the first
300 people in alphabetical order, so a person sorted after them could not be chosen.
"""

from __future__ import annotations

import pytest

from kith.people.models import Party
from kith.sales.models import Deal
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def pick(user, q: str, kind: str = "person") -> list[str]:
    response = client_for(user).get("/parties/pick/", {"kind": kind, "q": q})
    assert response.status_code == 200
    return [row["name"] for row in response.json()["results"]]


def test_pick_finds_a_person_sorted_after_the_first_300(alice):
    Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Aaron A{i:03d}", sort_name=f"a{i:03d}")
            for i in range(310)
        ]
    )
    make_person(alice, given="Zoe", family="Zimmer")
    assert pick(alice, "zimm") == ["Zoe Zimmer"]
    assert pick(alice, "Zoe Zi") == ["Zoe Zimmer"]
    # The deal and meeting forms no longer list anyone up front…
    page = client_for(alice).get("/sales/deals/new/").content.decode()
    assert "Aaron A000" not in page
    assert 'data-picker="person"' in page and 'data-picker="organization"' in page
    meeting = client_for(alice).get("/work/meetings/new/").content.decode()
    assert 'data-picker="person"' in meeting and "Aaron A000" not in meeting


def test_a_deal_saves_a_person_chosen_through_the_picker(alice):
    for i in range(3):
        make_person(alice, given="Ann", family=f"Early{i}")
    late = make_person(alice, given="Zed", family="Late")
    org = make_org(alice, name="Zulu Works")
    response = client_for(alice).post(
        "/sales/deals/new/",
        {
            "title": "Picked",
            "person": str(late.public_id),
            "organization": str(org.public_id),
            "amount": "10",
            "currency": "EUR",
            "visibility": "everyone",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deal = Deal.objects.get(title="Picked")
    assert deal.person == late and deal.organization == org


def test_pick_is_scoped_by_kind_and_access(alice, bob):
    make_org(alice, name="Zimmer GmbH")
    make_person(alice, given="Zoe", family="Zimmer")
    make_person(alice, given="Zack", family="Zimmer", visibility="private", owner=alice)
    assert pick(alice, "zimmer", kind="organization") == ["Zimmer GmbH"]
    assert sorted(pick(alice, "zimmer")) == ["Zack Zimmer", "Zoe Zimmer"]
    assert pick(bob, "zimmer") == ["Zoe Zimmer"]  # a private record stays hidden


def test_a_foreign_id_posted_to_a_deal_is_refused(alice, bob):
    hidden = make_person(alice, given="Priv", family="Ate", visibility="private", owner=alice)
    response = client_for(bob).post(
        "/sales/deals/new/",
        {
            "title": "Sneaky",
            "person": str(hidden.public_id),
            "amount": "1",
            "currency": "EUR",
            "visibility": "everyone",
        },
    )
    assert response.status_code == 422
    assert not Deal.objects.filter(title="Sneaky").exists()


def test_create_new_from_a_picker(alice, vic):
    response = client_for(alice).post(
        "/parties/pick/new/", {"kind": "person", "name": "Nia Okafor"}
    )
    assert response.status_code == 201
    person = Party.objects.get(public_id=response.json()["id"])
    assert (person.given_name, person.family_name) == ("Nia", "Okafor")
    org = client_for(alice).post(
        "/parties/pick/new/", {"kind": "organization", "name": "Okafor Ltd"}
    )
    assert org.status_code == 201 and org.json()["name"] == "Okafor Ltd"
    empty = client_for(alice).post("/parties/pick/new/", {"kind": "person", "name": " "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "name"
    # A viewer may look but not create.
    assert client_for(vic).post("/parties/pick/new/", {"name": "X Y"}).status_code == 403
    assert not Party.objects.filter(family_name="Y").exists()
