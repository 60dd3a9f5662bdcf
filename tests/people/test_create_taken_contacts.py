"""A create whose e-mail or phone another record holds: the reply names each taken point
at its index in the request, beside every other error, inside an idempotent request too;
two creates racing for one address make one record and a 409."""

import pytest

from kith.core.models import IdempotencyRecord
from kith.people.models import ContactPoint, Party
from tests.conftest import ApiClient, make_person

pytestmark = pytest.mark.django_db


def test_each_taken_point_is_named_at_its_index_and_nothing_is_written(alice):
    make_person(alice, email="ana@example.com", phone="+44 20 7946 0958")
    before = Party.objects.count()
    r = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": "Other",
            "contact_points": [
                {"channel": "email", "value": "free@example.com"},
                {"channel": "phone", "value": "+442079460958"},
                {"channel": "email", "value": "ANA@example.com"},
            ],
        },
    )
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["contact_points[2].value", "contact_points[1].value"]
    assert all("Already belongs to Ana Lima" in e["message"] for e in errors)
    assert Party.objects.count() == before
    assert not ContactPoint.objects.filter(normalized="free@example.com").exists()


def test_a_failing_request_reports_taken_points_beside_its_other_errors(alice):
    make_person(alice, email="ana@example.com")
    r = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": "Other",
            "contact_points": [
                {"channel": "phone", "value": "not a number"},
                {"channel": "email", "value": "ana@example.com"},
            ],
        },
    )
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["contact_points[0].value", "contact_points[1].value"]
    assert "Already belongs to Ana Lima" in r.json()["errors"][1]["message"]


def test_an_idempotent_create_of_a_taken_point_is_refused_and_keeps_no_key(alice):
    make_person(alice, email="ana@example.com")
    api = ApiClient(alice)
    body = {
        "given_name": "Other",
        "contact_points": [{"channel": "email", "value": "ana@example.com"}],
    }
    headers = {"Idempotency-Key": "taken-1"}
    r = api.post("/api/people", body, headers=headers)
    assert r.status_code == 422
    assert "Already belongs to Ana Lima" in r.json()["errors"][0]["message"]
    assert not IdempotencyRecord.objects.filter(key="taken-1").exists()
    # The key is free: the corrected request goes through under it.
    body["contact_points"][0]["value"] = "other@example.com"
    again = api.post("/api/people", body, headers=headers)
    assert again.status_code == 201, again.content
    assert api.post("/api/people", body, headers=headers).json()["id"] == again.json()["id"]


def test_a_holder_the_creator_cannot_see_is_not_named(bob, alice):
    make_person(
        alice,
        given="Hidden",
        family="Owner",
        email="hid@example.com",
        visibility="private",
        owner=alice,
    )
    r = ApiClient(bob).post(
        "/api/people",
        {
            "given_name": "Mine",
            "contact_points": [{"channel": "email", "value": "hid@example.com"}],
        },
    )
    assert r.status_code == 422
    message = r.json()["errors"][0]["message"]
    assert message == "Already belongs to another record you cannot see."
    assert "Hidden" not in r.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_creates_racing_for_one_address_make_one_record_and_name_it_to_the_rest(alice):
    from tests.concurrency import require_postgres, run_together

    require_postgres()
    api = ApiClient(alice)  # one token, issued before the threads start

    def create(i: int):
        return api.post(
            "/api/people",
            {
                "given_name": f"Racer{i}",
                "contact_points": [{"channel": "email", "value": "race@example.com"}],
            },
        )

    responses, errors = run_together(create, range(8))
    assert not errors
    codes = sorted(r.status_code for r in responses)
    # A loser that read after the winner committed is told whose it is (422); one that
    # read before meets the unique index (409).
    assert codes.count(201) == 1 and all(c in (409, 422) for c in codes if c != 201), codes
    assert ContactPoint.objects.filter(normalized="race@example.com").count() == 1
    assert Party.objects.filter(given_name__startswith="Racer").count() == 1
