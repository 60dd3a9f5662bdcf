"""Audit findings in kith.listening's web UI: query and form values that passed an
``isdigit()`` check but are no whole number ``int()`` takes (a superscript digit, more
digits than Python converts) or that overflow the database's integer answered 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from kith.listening.models import Mention, Source

pytestmark = pytest.mark.django_db

HUGE = "9" * 25  # digits, but no row id the database can hold
ODD = ["²", "٣²", "9" * 5000, HUGE]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def mention(db) -> Mention:
    source = Source.objects.create(kind="webhook", name="Hook", first_response_minutes=60)
    return Mention.objects.create(
        source=source,
        external_id="e1",
        channel="mastodon",
        text="my order arrived broken",
        published_at=timezone.now() - dt.timedelta(minutes=5),
        received_at=timezone.now(),
    )


@pytest.mark.parametrize("value", ODD)
def test_queue_page_number_that_is_no_int_is_page_one(bob, mention, value):
    for path in ("/listening/", "/listening/queue/rows/"):
        response = _client(bob).get(path, {"page": value})
        assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize("value", ODD)
def test_queue_assignee_filter_that_is_no_user_id_is_ignored(bob, mention, value):
    response = _client(bob).get("/listening/", {"assignee": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ODD)
def test_assign_to_an_assignee_that_is_no_user_id_is_a_field_error(bob, mention, value):
    response = _client(bob).post(
        f"/listening/mentions/{mention.public_id}/assign/", {"assignee": value}
    )
    assert response.status_code == 302
    mention.refresh_from_db()
    assert mention.assignee_id is None


@pytest.mark.parametrize("value", ODD)
def test_bulk_assign_to_an_assignee_that_is_no_user_id_is_a_field_error(bob, mention, value):
    response = _client(bob).post(
        "/listening/queue/bulk/",
        {"action": "assign", "mention": [str(mention.public_id)], "assignee": value},
    )
    assert response.status_code in (302, 422)
    mention.refresh_from_db()
    assert mention.assignee_id is None
