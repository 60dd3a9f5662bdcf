"""Idempotency keys: a retried create returns the first response, not a second record."""

import pytest

from kith.people.models import Party
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays(alice):
    api = ApiClient(alice)
    body = {"given_name": "Ida", "family_name": "Empotent"}
    first = api.post("/api/people", body, headers={"Idempotency-Key": "k-1"})
    second = api.post("/api/people", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Party.objects.filter(family_name="Empotent").count() == 1


def test_same_key_different_body_is_a_conflict(alice):
    api = ApiClient(alice)
    api.post("/api/people", {"given_name": "A"}, headers={"Idempotency-Key": "k-2"})
    r = api.post("/api/people", {"given_name": "B"}, headers={"Idempotency-Key": "k-2"})
    assert r.status_code == 409


def test_keys_are_per_user_and_failed_requests_do_not_burn_them(alice, bob):
    body = {"given_name": "Shared"}
    assert (
        ApiClient(alice).post("/api/people", body, headers={"Idempotency-Key": "k-3"}).status_code
        == 201
    )
    assert (
        ApiClient(bob).post("/api/people", body, headers={"Idempotency-Key": "k-3"}).status_code
        == 201
    )
    api = ApiClient(alice)
    assert api.post("/api/organizations", {}, headers={"Idempotency-Key": "k-4"}).status_code == 422
    assert (
        api.post(
            "/api/organizations", {"display_name": "Fixed"}, headers={"Idempotency-Key": "k-4"}
        ).status_code
        == 201
    )


def test_without_a_key_each_post_creates(alice):
    api = ApiClient(alice)
    api.post("/api/people", {"given_name": "Twice"})
    api.post("/api/people", {"given_name": "Twice"})
    assert Party.objects.filter(given_name="Twice").count() == 2
