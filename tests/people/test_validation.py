"""Bad input is a 4xx with field names, never a 500, and never half-written."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith.people.models import ContactPoint, Party
from tests.conftest import ApiClient, make_person

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "given_name"),
        (
            {"given_name": "A", "contact_points": [{"channel": "email", "value": "not-an-email"}]},
            "contact_points[0].value",
        ),
        (
            {"given_name": "A", "contact_points": [{"channel": "phone", "value": "12"}]},
            "contact_points[0].value",
        ),
        (
            {"given_name": "A", "contact_points": [{"channel": "github", "value": "has spaces!"}]},
            "contact_points[0].value",
        ),
        (
            {"given_name": "A", "contact_points": [{"channel": "Bad Channel", "value": "x"}]},
            "contact_points[0].value",
        ),
        ({"given_name": "A", "birthday": "31/12/1990"}, "birthday"),
        ({"given_name": "A", "timezone": "Mars/Olympus"}, "timezone"),
        ({"given_name": "A", "visibility": "secret"}, "visibility"),
        ({"given_name": "A", "visibility": "team"}, "team"),
        ({"given_name": "A", "attributes": {"unknown": 1}}, "attributes.unknown"),
        ({"given_name": "A" * 151}, "given_name"),
        ({"given_name": "A", "owner": "nobody"}, "owner"),
        ({"given_name": "A", "tags": "not-a-list"}, "tags"),
    ],
)
def test_create_person_errors_name_the_field(alice, body, field):
    r = ApiClient(alice).post("/api/people", body)
    assert r.status_code == 422, r.content
    data = r.json()
    assert field in [e["field"] for e in data["errors"]], data
    assert data["detail"]
    assert not Party.objects.filter(kind="person").exists()


def test_all_errors_reported_at_once_and_nothing_written(alice):
    r = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": "A",
            "birthday": "1990-13-45",
            "contact_points": [
                {"channel": "email", "value": "ok@example.com"},
                {"channel": "phone", "value": "nope"},
            ],
        },
    )
    assert r.status_code == 422
    assert not ContactPoint.objects.filter(normalized="ok@example.com").exists()


def test_contact_point_taken_by_another_record(alice):
    make_person(alice, email="ana@example.com")
    r = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": "Other",
            "contact_points": [{"channel": "email", "value": "ANA@example.com"}],
        },
    )
    assert r.status_code == 422
    assert "Already belongs to Ana Lima" in r.json()["errors"][0]["message"]


def test_malformed_json_is_a_4xx(alice):
    api = ApiClient(alice)
    r = api.client.post(
        "/api/people", data="{not json", content_type="application/json", headers=api.headers
    )
    assert 400 <= r.status_code < 500


def test_normalisation(alice):
    r = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": "Ana",
            "contact_points": [
                {"channel": "phone", "value": "+44 (20) 7946-0958"},
                {"channel": "twitter", "value": "@AnaLima"},
                {"channel": "website", "value": "WWW.Example.com/"},
                {"channel": "linkedin", "value": "https://www.linkedin.com/in/Ana-Lima/"},
                {"channel": "mastodon", "value": "@Ana@Mastodon.Social"},
            ],
        },
    )
    assert r.status_code == 201, r.content
    normalized = {cp["channel"]: cp["normalized"] for cp in r.json()["contact_points"]}
    assert normalized == {
        "phone": "+442079460958",
        "twitter": "analima",
        "website": "example.com",
        "linkedin": "ana-lima",
        "mastodon": "ana@mastodon.social",
    }


def test_custom_attributes_are_validated_against_definitions(alice):
    api = ApiClient(alice)
    assert (
        api.post(
            "/api/fields",
            {
                "key": "segment",
                "label": "Segment",
                "type": "choice",
                "choices": ["smb", "enterprise"],
            },
        ).status_code
        == 201
    )
    assert (
        api.post("/api/fields", {"key": "seats", "label": "Seats", "type": "number"}).status_code
        == 201
    )
    r = api.post(
        "/api/people", {"given_name": "A", "attributes": {"segment": "huge", "seats": "many"}}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"attributes.segment", "attributes.seats"}
    r = api.post(
        "/api/people", {"given_name": "A", "attributes": {"segment": "smb", "seats": "12"}}
    )
    assert r.status_code == 201
    assert r.json()["attributes"] == {"segment": "smb", "seats": 12}


def test_bad_interaction_and_transaction_input(alice):
    person = make_person(alice)
    api = ApiClient(alice)
    r = api.post(
        f"/api/parties/{person.public_id}/interactions",
        {"channel": "pigeon", "summary": "", "sentiment": 3},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"channel", "summary", "sentiment"}
    r = api.post(
        f"/api/parties/{person.public_id}/interactions",
        {"channel": "call", "summary": "x", "occurred_at": "2026-01-01T10:00:00"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "occurred_at"
    r = api.post(
        f"/api/parties/{person.public_id}/transactions",
        {"kind": "gift", "amount": "-5", "currency": "XXX"},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "amount", "currency"}
    r = api.post(
        f"/api/parties/{person.public_id}/transactions",
        {"kind": "order", "amount": "1.005", "currency": "EUR"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount"


def test_unknown_ids_are_404(alice):
    api = ApiClient(alice)
    assert api.get("/api/people/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/api/people/not-a-uuid").status_code in (404, 422)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "given_name",
                "family_name",
                "birthday",
                "timezone",
                "tags",
                "attributes",
                "contact_points",
                "visibility",
                "notes",
            ]
        ),
        st.one_of(
            st.text(max_size=40),
            st.integers(),
            st.none(),
            st.lists(st.text(max_size=10), max_size=3),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
        ),
        max_size=5,
    )
)
def test_fuzzed_person_payloads_never_500(alice, body):
    r = ApiClient(alice).post("/api/people", body)
    assert r.status_code < 500, (body, r.content)


def test_taken_contact_point_does_not_name_a_hidden_record(alice, bob, dan):
    make_person(
        dan,
        given="Secret",
        family="Owner",
        email="hidden@example.com",
        owner=dan,
        visibility="private",
    )
    r = ApiClient(bob).post(
        "/api/people",
        {
            "given_name": "X",
            "contact_points": [{"channel": "email", "value": "hidden@example.com"}],
        },
    )
    assert r.status_code == 422
    message = r.json()["errors"][0]["message"]
    assert "Secret" not in message and "another record" in message
