"""Defects found in an audit of kith.people: each test failed before its fix."""

from __future__ import annotations

import pytest

from kith.people import services
from kith.people.models import Relationship
from tests.conftest import ApiClient, make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_link(alice, bob, dan):
    """A public person bob may see, employed by dan's private organisation."""
    secret_org = make_org(dan, "Dans Secret Holdings", owner=dan, visibility="private")
    person = make_person(alice, given="Pat", family="Public")
    services.add_relationship(actor=alice, subject=person, role="employee", object=secret_org)
    return person, secret_org


def test_person_detail_does_not_name_an_invisible_organisation(secret_link, bob):
    person, secret_org = secret_link
    response = ApiClient(bob).get(f"/api/people/{person.public_id}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Dans Secret Holdings" not in body
    assert str(secret_org.public_id) not in body


def test_people_list_does_not_name_an_invisible_organisation(secret_link, bob):
    response = ApiClient(bob).get("/api/people")
    assert response.status_code == 200
    assert "Dans Secret Holdings" not in response.content.decode()
    response = ApiClient(bob).get("/api/people", q="Pat")
    assert response.status_code == 200
    assert "Dans Secret Holdings" not in response.content.decode()


def test_relationship_listing_does_not_name_an_invisible_organisation(secret_link, bob):
    person, secret_org = secret_link
    response = ApiClient(bob).get(f"/api/parties/{person.public_id}/relationships")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Dans Secret Holdings" not in body
    assert str(secret_org.public_id) not in body


def test_admin_still_sees_the_organisation_in_roles(secret_link, alice):
    person, _ = secret_link
    response = ApiClient(alice).get(f"/api/people/{person.public_id}")
    assert [r["object_name"] for r in response.json()["roles"]] == ["Dans Secret Holdings"]
    response = ApiClient(alice).get(f"/api/parties/{person.public_id}/relationships")
    assert [r["object_name"] for r in response.json()["items"]] == ["Dans Secret Holdings"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_racing_role_adds_make_one_relationship(alice):
    from tests.concurrency import require_postgres, run_together

    require_postgres()
    acme = make_org(alice, "Acme")
    person = make_person(alice, given="Ana", family="Race")

    def add(_):
        return services.add_relationship(actor=alice, subject=person, role="employee", object=acme)

    results, errors = run_together(add, range(6))
    count = Relationship.objects.filter(subject=person, object=acme).count()
    assert count == 1, (count, errors)
    assert len(results) == 1


def test_patching_a_role_towards_an_invisible_organisation_does_not_name_it(secret_link, bob):
    person, _ = secret_link
    rel = Relationship.objects.get(subject=person)
    response = ApiClient(bob).patch(f"/api/relationships/{rel.public_id}", {"note": "x"})
    assert "Dans Secret Holdings" not in response.content.decode()
    assert response.status_code == 404
