"""Role filters: "Former customer" finds ended customer roles; "as of" a past day.

Before, the "Former customer" filter matched only rows of the former-customer role,
so people whose customer role had ended were found by no filter at all.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.people import services
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def listed(user, **params) -> str:
    response = client_for(user).get("/people/", params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def cast(alice):
    today = timezone.localdate()
    acme = make_org(alice, name="Acme Ltd")
    people = {
        name: make_person(alice, given=name, family="Test")
        for name in ("Ended", "Current", "Returned", "Never")
    }
    add = services.add_relationship
    add(actor=alice, subject=people["Ended"], role="customer", object=acme,
        valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2023, 6, 30))  # fmt: skip
    add(actor=alice, subject=people["Current"], role="customer", object=acme,
        valid_from=dt.date(2021, 1, 1))  # fmt: skip
    # Left, then came back: a customer today, not a former one.
    add(actor=alice, subject=people["Returned"], role="customer", object=acme,
        valid_from=dt.date(2019, 1, 1), valid_to=dt.date(2020, 1, 1))  # fmt: skip
    add(actor=alice, subject=people["Returned"], role="customer", object=acme,
        valid_from=today - dt.timedelta(days=10))  # fmt: skip
    return people


def test_former_customer_finds_ended_customer_roles(alice, cast):
    page = listed(alice, role="former-customer")
    assert "Ended Test" in page
    assert "Current Test" not in page and "Returned Test" not in page
    assert "Never Test" not in page


def test_as_of_a_past_day(alice, cast):
    page = listed(alice, role="customer", as_of="2022-03-01")
    assert "Ended Test" in page and "Current Test" in page
    assert "Returned Test" not in page
    # On that day the one who came back was a former customer.
    former = listed(alice, role="former-customer", as_of="2022-03-01")
    assert "Returned Test" in former and "Ended Test" not in former


def test_a_bad_as_of_date_is_a_field_error(alice, cast):
    response = client_for(alice).get("/people/", {"role": "customer", "as_of": "yesterday"})
    assert response.status_code == 422
    assert "Must be a date" in response.content.decode()
