"""National phone numbers: read in the record's or the user's country, with a hint.

Before, "020 7946 0958" under the default region (US) was refused as "Not a valid
phone number." with no word on the country code, and no user could change the region.
"""

from __future__ import annotations

import pytest

from kith.core.errors import ValidationFailed
from kith.people import services
from kith.people.models import ContactPoint
from kith.people.services import ContactInput
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

UK_NATIONAL = "020 7946 0958"


def test_a_national_number_under_the_wrong_region_says_add_the_country_code(alice, settings):
    settings.KITH_PHONE_REGION = "US"
    with pytest.raises(ValidationFailed) as caught:
        make_person(alice, given="Ann", family="Lee", phone=UK_NATIONAL)
    message = caught.value.errors[0].message
    assert "add the country code, e.g. +44" in message
    assert "in US" in message


def test_the_users_locale_sets_the_region(alice, settings):
    settings.KITH_PHONE_REGION = "US"
    alice.person = make_person(None, given="Alice", family="Admin", locale="en-GB")
    alice.save(update_fields=["person"])
    ann = make_person(alice, given="Ann", family="Lee", phone=UK_NATIONAL)
    assert ContactPoint.objects.get(party=ann, channel="phone").normalized == "+442079460958"


def test_the_records_locale_wins_over_the_users(alice, settings):
    settings.KITH_PHONE_REGION = "US"
    ann = make_person(alice, given="Ann", family="Lee", locale="en-GB")
    point = services.add_contact_point(
        actor=alice, party=ann, contact=ContactInput("phone", UK_NATIONAL)
    )
    assert point.normalized == "+442079460958"


def test_an_international_number_gets_no_country_hint(alice):
    with pytest.raises(ValidationFailed) as caught:
        make_person(alice, given="Ann", family="Lee", phone="+44 12")
    assert "country code" not in caught.value.errors[0].message
