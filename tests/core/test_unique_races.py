"""A check-then-insert race answers 409, not 500.

A service checks that a slug or a name is free, then inserts; another request can take
it in between, and the database's unique constraint refuses the second INSERT. That is
a conflict the caller can resolve by reloading (the transaction rolled back, nothing
was written), answered in one place (``kith.core.inputs.input_exception_response``) for
every service, API and page alike. The race is reproduced by hiding the row from the
service's own check.
"""

from __future__ import annotations

from unittest import mock

from django.db.models import QuerySet

from kith.community.models import Space
from kith.core.inputs import unique_violation_field
from tests.conftest import client_for


def _check_sees_nothing():
    """The service's ``exists()`` check runs before the other request commits."""
    return mock.patch.object(QuerySet, "exists", return_value=False)


def test_an_api_create_that_loses_a_race_is_a_409_naming_the_field(api_as, alice):
    first = api_as(alice).post("/api/community/spaces", {"name": "Help", "slug": "help"})
    assert first.status_code == 201, first.content
    with _check_sees_nothing():
        second = api_as(alice).post("/api/community/spaces", {"name": "Help 2", "slug": "help"})
    assert second.status_code == 409, second.content
    body = second.json()
    assert body["code"] == "conflict"
    assert [e["field"] for e in body["errors"]] == ["slug"]
    assert Space.objects.filter(slug="help").count() == 1
    assert not Space.objects.filter(name="Help 2").exists()


def test_a_page_that_loses_a_race_is_a_409_page(alice):
    from kith.ideas.models import Category

    client = client_for(alice)
    client.post("/ideas/categories/", {"name": "Mobile app", "vote_budget": "10"})
    assert Category.objects.filter(slug="mobile-app").exists()
    with _check_sees_nothing():
        page = client.post("/ideas/categories/", {"name": "Mobile App", "vote_budget": "10"})
    assert page.status_code == 409
    assert "reload and try again" in page.content.decode()
    assert Category.objects.filter(slug="mobile-app").count() == 1


def test_only_unique_violations_are_read_as_such():
    from django.db import IntegrityError

    assert unique_violation_field(ValueError("x")) is None
    assert unique_violation_field(IntegrityError("NOT NULL constraint failed: t.a")) is None
    assert unique_violation_field(IntegrityError("UNIQUE constraint failed: t.a, t.b")) == "a, b"
