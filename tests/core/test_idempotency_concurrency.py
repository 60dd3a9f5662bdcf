"""Idempotency keys under concurrency: retries sent at once all get the stored answer.

Before the key was claimed up front, a retry that started while the first request was
still running ran the view again and met the first request's row (its e-mail address
now taken): it answered 409 instead of the first response.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kith.people.models import Party
from tests.conftest import ApiClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("restore_migration_seed"),
]

THREADS = 12


def _skip_on_sqlite() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SKIPPED ON SQLITE: real concurrent requests need PostgreSQL (SQLite "
            "serialises writers); run with DATABASE_URL=postgres://…"
        )


def _post_at_once(alice, bodies: list[dict], key: str) -> list:
    """POST each body to /api/people from its own thread, all released together."""
    api = ApiClient(alice)  # one token, issued before the threads start
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            barrier.wait()
            responses[i] = api.post("/api/people", bodies[i], headers={"Idempotency-Key": key})
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return responses


def test_concurrent_retries_with_one_key_all_get_the_first_answer(alice):
    _skip_on_sqlite()
    body = {
        "given_name": "Ida",
        "family_name": "Racer",
        "contact_points": [{"channel": "email", "value": "ida.racer@example.com"}],
    }
    responses = _post_at_once(alice, [body] * THREADS, "race-1")
    assert [r.status_code for r in responses] == [201] * THREADS, [
        (r.status_code, r.content[:200]) for r in responses if r.status_code != 201
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Party.objects.filter(family_name="Racer").count() == 1


def test_concurrent_different_bodies_with_one_key_conflict(alice):
    _skip_on_sqlite()
    bodies = [{"given_name": f"Other{i}", "family_name": "Keyed"} for i in range(6)]
    responses = _post_at_once(alice, bodies, "race-2")
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 5
    assert Party.objects.filter(family_name="Keyed").count() == 1
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["code"] == "conflict"
