"""Audit findings in kith.cmr: contact preferences with a time zone that names a folder
of the tz database ("Etc", "America") answered 500 (``ZoneInfo`` raises
IsADirectoryError, which the check did not catch) instead of a field error."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.cmr import policy, services
from kith.cmr.models import Preference
from kith.core.errors import ValidationFailed
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

FOLDERS = ["Etc", "America"]


@pytest.mark.parametrize("zone", FOLDERS)
def test_service_refuses_a_tz_folder_as_time_zone(carol, zone):
    with pytest.raises(ValidationFailed) as caught:
        services.set_preferences(
            actor=carol, person=carol.person, data=services.PreferenceInput(timezone=zone)
        )
    assert [e.field for e in caught.value.errors] == ["timezone"]
    assert not Preference.objects.filter(person=carol.person).exists()


@pytest.mark.parametrize("zone", FOLDERS)
def test_api_answers_422_for_a_tz_folder(carol, zone):
    response = ApiClient(carol).client.put(
        "/api/cmr/me/preferences",
        data={"channels": ["email"], "timezone": zone},
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "timezone"


@pytest.mark.parametrize("zone", FOLDERS)
def test_web_form_answers_422_for_a_tz_folder(carol, zone):
    web = Client(raise_request_exception=False)
    web.force_login(carol)
    response = web.post("/cmr/my/preferences/", {"channels": ["email"], "timezone": zone})
    assert response.status_code == 422


def test_quiet_hours_of_a_stored_folder_zone_fall_back_to_utc(carol):
    """A row written before the check (or by hand) must not break every sender."""
    row = Preference.objects.create(person=carol.person, channels=["email"], timezone="Etc")
    assert policy._zone(row, carol.person) is not None
