"""Amounts typed as people write them: the user's locale sets grouping and decimal marks.

Before, the deal form refused "24,000" ("Not a number").
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kith.sales.models import Deal
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def post_deal(user, title: str, amount: str):
    org = make_org(user, name=f"{title} Ltd")
    return client_for(user).post(
        "/sales/deals/new/",
        {
            "title": title,
            "organization": str(org.public_id),
            "amount": amount,
            "currency": "EUR",
            "visibility": "everyone",
        },
    )


@pytest.mark.parametrize(
    ("locale", "typed", "expected"),
    [
        ("", "24,000", "24000.00"),
        ("en", "24,000.50", "24000.50"),
        ("de", "24.000,50", "24000.50"),
        ("fr", "24 000,50", "24000.50"),
        ("de", "24000.50", "24000.50"),  # the machine form is always understood
    ],
)
def test_amount_in_the_users_locale(alice, locale, typed, expected):
    if locale:
        alice.person = make_person(None, given="Alice", family="Admin", locale=locale)
        alice.save(update_fields=["person"])
    response = post_deal(alice, "Localised", typed)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Deal.objects.get(title="Localised").amount == Decimal(expected)


def test_a_wrong_amount_names_the_expected_form(alice):
    response = post_deal(alice, "Wrong", "24,00")
    assert response.status_code == 422
    assert "write it like 24,000.50" in response.content.decode()
    assert not Deal.objects.filter(title="Wrong").exists()
