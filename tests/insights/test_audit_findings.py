"""Audit findings in kith.insights' web pages: numbers in the query string or a form
that passed ``str.isdigit`` but are no number ``int`` takes (a superscript "²", mixed
scripts) answered 500 instead of falling back to the default or a field error."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.insights.models_research import Panel, Survey

pytestmark = pytest.mark.django_db

ODD = ["²", "1²", "٣²"]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("value", ODD)
def test_influence_page_community_that_is_no_number_is_ignored(alice, value):
    assert _client(alice).get("/insights/", {"community": value}).status_code == 200


@pytest.mark.parametrize("value", ODD)
def test_participation_days_that_are_no_number_fall_back(alice, value):
    assert _client(alice).get("/insights/participation/", {"days": value}).status_code == 200


@pytest.mark.parametrize("value", ODD)
def test_value_segment_page_that_is_no_number_is_page_one(alice, value):
    response = _client(alice).get("/insights/value/segments/all/", {"page": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ODD)
def test_panel_size_that_is_no_number_is_a_field_error(bob, value):
    response = _client(bob).post(
        "/insights/panels/new/", {"name": "Panel", "size": value, "strata": ["region"]}
    )
    assert response.status_code == 422
    assert not Panel.objects.exists()


@pytest.mark.parametrize("value", ODD)
def test_survey_scale_that_is_no_number_takes_the_default(bob, value):
    panel = Panel.objects.create(name="P", strata=["region"], target_size=10)
    response = _client(bob).post(
        f"/insights/panels/{panel.public_id}/surveys/",
        {
            "title": "How are we doing?",
            "q1_kind": "scale",
            "q1_text": "Rate us",
            "q1_scale_max": value,
        },
    )
    assert response.status_code == 302
    survey = Survey.objects.get(panel=panel)
    assert survey.questions.get().scale_max == 5
