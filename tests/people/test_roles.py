"""Roles are relationships with dates: "customers today", "partners in 2024", "several roles"."""

import datetime as dt

import pytest

from kith.people import services
from kith.people.models import Party, Relationship
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)  # a fixed "today" for date-explicit queries


@pytest.fixture
def cast(alice):
    acme = make_org(alice, "Acme")
    globex = make_org(alice, "Globex")
    ana = make_person(alice, given="Ana", family="Lima")
    ben = make_person(alice, given="Ben", family="Ode")
    cy = make_person(alice, given="Cy", family="Park")
    add = services.add_relationship
    # Ana: customer of Acme since 2021, and an employee of Globex until the end of 2024.
    add(actor=alice, subject=ana, role="customer", object=acme, valid_from=dt.date(2021, 3, 1))
    add(
        actor=alice,
        subject=ana,
        role="employee",
        object=globex,
        valid_from=dt.date(2019, 1, 1),
        valid_to=dt.date(2024, 12, 31),
    )
    # Ben: partner of Acme during 2024 only, customer of Acme from 2025; an advocate of us.
    add(
        actor=alice,
        subject=ben,
        role="partner",
        object=acme,
        valid_from=dt.date(2024, 1, 1),
        valid_to=dt.date(2024, 12, 31),
    )
    add(actor=alice, subject=ben, role="customer", object=acme, valid_from=dt.date(2025, 1, 1))
    add(actor=alice, subject=ben, role="advocate")
    # Cy: a customer who has not started yet (whatever today is).
    add(
        actor=alice,
        subject=cy,
        role="customer",
        object=acme,
        valid_from=dt.date.today() + dt.timedelta(days=400),
    )
    return {"acme": acme, "globex": globex, "ana": ana, "ben": ben, "cy": cy}


def names(qs):
    return sorted(p.given_name for p in qs)


def test_customers_of_acme_today(cast):
    assert names(Party.objects.holding("customer", of=cast["acme"], on=TODAY)) == ["Ana", "Ben"]


def test_customers_on_a_past_date(cast):
    assert names(Party.objects.holding("customer", of=cast["acme"], on=dt.date(2022, 6, 1))) == [
        "Ana"
    ]


def test_bounds_are_inclusive(cast):
    assert names(Party.objects.holding("employee", on=dt.date(2024, 12, 31))) == ["Ana"]
    assert names(Party.objects.holding("employee", on=dt.date(2025, 1, 1))) == []


def test_partners_during_2024(cast):
    assert names(
        Party.objects.holding_during("partner", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    ) == ["Ben"]
    assert (
        names(Party.objects.holding_during("partner", dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
        == []
    )


def test_people_with_more_than_one_role(cast):
    assert names(Party.objects.with_several_roles(on=TODAY)) == ["Ben"]
    assert names(Party.objects.with_several_roles(on=dt.date(2022, 1, 1))) == ["Ana"]


def test_ending_a_role_keeps_its_history(cast, alice):
    rel = Relationship.objects.get(subject=cast["ana"], role__slug="customer")
    services.end_relationship(actor=alice, relationship=rel, on=dt.date(2026, 1, 31))
    assert names(Party.objects.holding("customer", of=cast["acme"], on=TODAY)) == ["Ben"]
    assert names(Party.objects.holding("customer", of=cast["acme"], on=dt.date(2026, 1, 31))) == [
        "Ana",
        "Ben",
    ]


def test_api_role_filter_and_relationship_listing(cast, alice, api_as):
    api = api_as(alice)
    items = api.get("/api/people", role="customer").json()["items"]
    assert {p["display_name"] for p in items} >= {"Ana Lima", "Ben Ode"}
    assert "Cy Park" not in {p["display_name"] for p in items}
    org_people = api.get(f"/api/organizations/{cast['acme'].public_id}/people").json()["items"]
    assert {p["display_name"] for p in org_people} == {"Ana Lima", "Ben Ode"}
    person = api.get(f"/api/people/{cast['ana'].public_id}").json()
    roles = {(r["role"], r["current"]) for r in person["roles"]}
    assert roles == {("customer", True), ("employee", False)}


def test_adding_a_role_through_the_api(cast, alice, api_as):
    api = api_as(alice)
    r = api.post(
        f"/api/parties/{cast['cy'].public_id}/relationships",
        {"role": "supplier", "object": str(cast["globex"].public_id), "valid_from": "2026-01-01"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["object_name"] == "Globex"
    assert r.json()["current"] is True


@pytest.mark.parametrize(
    "body,field",
    [
        ({"role": "no-such-role"}, "role"),
        ({"role": "customer", "valid_from": "2025-01-01", "valid_to": "2024-01-01"}, "valid_to"),
        ({"role": "customer", "valid_from": "not-a-date"}, "valid_from"),
        ({"role": "employee", "object": "00000000-0000-0000-0000-000000000000"}, None),
    ],
)
def test_bad_relationships_are_4xx_with_field(cast, alice, api_as, body, field):
    r = api_as(alice).post(f"/api/parties/{cast['cy'].public_id}/relationships", body)
    assert 400 <= r.status_code < 500
    if field:
        assert field in [e["field"] for e in r.json()["errors"]]


def test_overlapping_same_role_is_refused(cast, alice):
    from kith.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.add_relationship(
            actor=alice,
            subject=cast["ana"],
            role="customer",
            object=cast["acme"],
            valid_from=dt.date(2023, 1, 1),
        )


def test_roles_are_data_not_code(alice, api_as):
    api = api_as(alice)
    r = api.post("/api/roles", {"name": "Beta tester", "applies_to": "person"})
    assert r.status_code == 201
    person = make_person(alice, given="Dee", family="Test")
    r = api.post(f"/api/parties/{person.public_id}/relationships", {"role": "beta-tester"})
    assert r.status_code == 201
    assert names(Party.objects.holding("beta-tester")) == ["Dee"]


def test_role_that_applies_to_people_only(cast, alice):
    from kith.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        services.add_relationship(
            actor=alice, subject=cast["acme"], role="employee", object=cast["globex"]
        )
    assert err.value.errors[0].field == "role"
