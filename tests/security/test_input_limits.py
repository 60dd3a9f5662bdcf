"""No 5xx from input: every endpoint bounds and cleans what it is sent (kith.core.inputs).

The generated tests walk the API itself (every operation, every upload endpoint), so an
endpoint added later is covered without a new test.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kith.api import api
from kith.core.inputs import MAX_ITEMS, check_value, is_guarded
from kith.interactions.models import Interaction, Transaction
from kith.people.models import Party
from kith.service import services as service_services
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def _client(user) -> tuple[Client, dict]:
    """A client that answers 500 instead of raising, with ``user``'s bearer token."""
    from kith.accounts import services as account_services

    _, secret = account_services.issue_token(actor=user, user=user, name="tests")
    return Client(raise_request_exception=False), {"Authorization": f"Bearer {secret}"}


def _send(client, headers, method, path, body: str | bytes, content_type="application/json"):
    return getattr(client, method)(path, data=body, content_type=content_type, headers=headers)


def _error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) >= {"detail", "code", "errors"}
    if field is not None:
        assert field in [e["field"] for e in data["errors"]], data
    return data


# ---------------------------------------------------------------- the request itself


def test_a_body_over_the_limit_is_a_json_413(alice):
    client, headers = _client(alice)
    body = json.dumps({"given_name": "a" * (11 * 1024 * 1024)})
    data = _error(_send(client, headers, "post", "/api/people", body), 413)
    assert data["code"] == "too_large"
    assert not Party.objects.filter(given_name__startswith="aaaa").exists()


def test_a_body_over_the_limit_is_a_page_on_the_web(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.post("/people/new/", data="x=" + "a" * 5000, content_type="text/plain")
    assert response.status_code == 413
    assert b"larger than" in response.content
    assert not response["Content-Type"].startswith("application/json")


def _upload_operations() -> list[str]:
    """Every (method, path) whose OpenAPI request body takes multipart/form-data."""
    schema = api.get_openapi_schema()
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "multipart/form-data" in content:
                found.append((method, path))
    return found


def test_the_spec_has_upload_endpoints():
    # Guards the generated test below against silently testing nothing.
    assert len(_upload_operations()) >= 3


@pytest.mark.parametrize("operation", _upload_operations(), ids=lambda o: f"{o[0]} {o[1]}")
def test_multipart_without_boundary_is_a_400_on_every_upload_endpoint(alice, operation):
    method, path = operation
    client, headers = _client(alice)
    person = make_person(alice)
    url = path.replace("{public_id}", str(person.public_id))
    for content_type in ("multipart/form-data", "multipart/form-data; boundary="):
        response = _send(client, headers, method, url, b"--x\r\n\r\n", content_type)
        data = _error(response, 400, "Content-Type")
        assert "boundary" in data["detail"]


def test_a_nul_in_the_query_string_is_a_400(alice):
    client, headers = _client(alice)
    response = client.get("/api/people?q=a%00b", headers=headers)
    _error(response, 400, "url")


# ---------------------------------------------------------------- values


def test_nul_in_text_is_refused_anywhere_in_the_body(alice):
    client, headers = _client(alice)
    for body in (
        {"given_name": "A\x00b"},
        {"given_name": "A", "tags": ["ok", "b\x00d"]},
        {"given_name": "A", "attributes": {"k\x00": "v"}},
        {"given_name": "A", "contact_points": [{"channel": "email", "value": "a\x00@x.org"}]},
    ):
        response = _send(client, headers, "post", "/api/people", json.dumps(body))
        _error(response, 422)
    assert not Party.objects.filter(given_name__startswith="A").exists()


def test_the_error_names_the_nested_field(alice):
    client, headers = _client(alice)
    body = {"given_name": "A", "tags": ["ok", "b\x00d"]}
    data = _error(_send(client, headers, "post", "/api/people", json.dumps(body)), 422)
    assert data["errors"][0]["field"] == "tags.1"


def test_bidi_overrides_are_refused_in_names_but_not_in_notes(alice):
    client, headers = _client(alice)
    refused = {"given_name": "evil\u202egnp.exe"}
    _error(_send(client, headers, "post", "/api/people", json.dumps(refused)), 422, "given_name")
    accepted = {"given_name": "Ana", "notes": "quoted \u202etext\u202c"}
    assert _send(client, headers, "post", "/api/people", json.dumps(accepted)).status_code == 201


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59-05:00",  # overflows when converted to UTC
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+05:00",
        "1899-12-31T23:00:00Z",
        "2201-01-01T00:00:00Z",
    ],
)
def test_datetimes_out_of_range_are_a_422_and_never_stored(alice, when):
    client, headers = _client(alice)
    person = make_person(alice)
    body = {"channel": "email", "summary": "x", "occurred_at": when}
    url = f"/api/parties/{person.public_id}/interactions"
    _error(_send(client, headers, "post", url, json.dumps(body)), 422, "occurred_at")
    assert not Interaction.objects.filter(party=person, summary="x").exists()


def test_dates_out_of_range_are_a_422(alice):
    client, headers = _client(alice)
    body = {"given_name": "Old", "birthday": "0200-01-01"}
    _error(_send(client, headers, "post", "/api/people", json.dumps(body)), 422, "birthday")


def test_a_datetime_in_range_is_accepted(alice):
    client, headers = _client(alice)
    person = make_person(alice)
    body = {"channel": "email", "summary": "ok", "occurred_at": "2199-12-31T23:59:59-05:00"}
    url = f"/api/parties/{person.public_id}/interactions"
    assert _send(client, headers, "post", url, json.dumps(body)).status_code == 201


@pytest.mark.parametrize(
    "amount", ['"1e400"', "1e400", "NaN", "Infinity", "-Infinity", '"NaN"', '"1e15"']
)
def test_amounts_must_be_finite_and_bounded(alice, amount):
    client, headers = _client(alice)
    person = make_person(alice)
    body = '{"kind": "order", "currency": "EUR", "amount": ' + amount + "}"
    url = f"/api/parties/{person.public_id}/transactions"
    _error(_send(client, headers, "post", url, body), 422, "amount")
    assert not Transaction.objects.filter(party=person).exists()


def test_integers_beyond_the_database_range_are_a_422(alice):
    client, headers = _client(alice)
    body = {"name": "Big", "priority": "low", "first_response_minutes": 10**20}
    body["resolution_minutes"] = 60
    data = _error(_send(client, headers, "post", "/api/sla-policies", json.dumps(body)), 422)
    assert data["errors"][0]["field"] == "first_response_minutes"


# ---------------------------------------------------------------- JSON shape


@pytest.mark.parametrize("body", ["[null, null]", '"hello"', "[]", "42", "true"])
def test_a_patch_body_that_is_not_an_object_is_a_422(alice, body):
    client, headers = _client(alice)
    person = make_person(alice)
    response = _send(client, headers, "patch", f"/api/people/{person.public_id}", body)
    _error(response, 422, "request")
    person.refresh_from_db()
    # "hello" used to be read through attribute access: title became "hello".title().
    assert person.title == ""


def test_null_on_a_field_that_cannot_be_empty_is_a_422(alice):
    client, headers = _client(alice)
    policy = service_services.create_sla_policy(
        actor=alice, name="Std", priority="low", first_response_minutes=60, resolution_minutes=600
    )
    url = f"/api/sla-policies/{policy.public_id}"
    for field in ("active", "name", "priority", "first_response_minutes"):
        response = _send(client, headers, "patch", url, json.dumps({field: None}))
        _error(response, 422, field)
    policy.refresh_from_db()
    assert policy.active is True and policy.name == "Std"


def test_a_not_null_violation_that_passes_a_schema_is_a_422_not_a_500(rf):
    # The net under every schema: a NOT NULL violation is the caller's error.
    from django.db import IntegrityError

    from kith.core.inputs import input_exception_response

    try:
        raise IntegrityError("NOT NULL constraint failed: service_slapolicy.active")
    except IntegrityError as exc:
        response = input_exception_response(rf.patch("/api/sla-policies/x"), exc)
    assert response.status_code == 422
    assert json.loads(response.content)["errors"][0]["field"] == "active"


# ---------------------------------------------------------------- sizes


def test_a_hundred_thousand_tags_are_refused_with_a_422(alice):
    client, headers = _client(alice)
    body = {"given_name": "T", "tags": [f"t{i}" for i in range(100_000)]}
    data = _error(_send(client, headers, "post", "/api/people", json.dumps(body)), 422, "tags")
    assert str(MAX_ITEMS) in data["detail"]
    assert not Party.objects.filter(given_name="T").exists()


def test_lists_at_the_cap_are_accepted(alice):
    client, headers = _client(alice)
    body = {"given_name": "T", "tags": [f"t{i}" for i in range(50)]}
    response = _send(client, headers, "post", "/api/people", json.dumps(body))
    assert response.status_code == 201
    assert len(response.json()["tags"]) == 50


def test_checking_is_linear_in_the_input():
    # Counting calls, not time: a quadratic check would visit n² values.
    import kith.core.inputs as inputs

    calls = 0
    original = inputs.check_value

    def counting(value, **kw):
        nonlocal calls
        calls += 1
        return original(value, **kw)

    inputs.check_value = counting
    try:
        counting([f"t{i}" for i in range(MAX_ITEMS)])
    finally:
        inputs.check_value = original
    assert calls <= MAX_ITEMS + 1


def test_check_value_rules():
    import datetime as dt
    from decimal import Decimal

    from kith.core.inputs import InputError

    for bad in (
        "a\x00",
        dt.date(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        Decimal("NaN"),
        Decimal("1e400"),
        float("inf"),
        2**40,
        ["x"] * (MAX_ITEMS + 1),
        {"k": [[[["\x00"]]]]},
    ):
        with pytest.raises(InputError):
            check_value(bad)
    for good in ("a", dt.date(2020, 1, 1), Decimal("12.50"), 3, [1, 2], {"a": "b"}, None, True):
        check_value(good)


# ---------------------------------------------------------------- coverage


def test_every_operation_of_the_api_is_guarded():
    """Every parameter model of every operation passes through kith.core.inputs, so an
    endpoint added later gets the rules without anyone remembering to add them."""
    unguarded = []
    count = 0
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for model in operation.models:
                    count += 1
                    if not is_guarded(model):
                        unguarded.append(f"{operation.methods} {path}: {model.__name__}")
    assert count > 100
    assert unguarded == []


# ---------------------------------------------------------------- found by fuzzing


def test_deleting_a_person_with_a_portal_login_is_a_409_not_a_500(alice, carol):
    client, headers = _client(alice)
    response = client.delete(f"/api/people/{carol.person.public_id}", headers=headers)
    data = _error(response, 409)
    assert "portal login" in data["detail"]
    assert Party.objects.filter(pk=carol.person.pk).exists()


# ---------------------------------------------------------------- web forms


def test_web_forms_refuse_dates_out_of_range_on_the_field(alice):
    person = make_person(alice)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.post(
        f"/parties/{person.public_id}/interactions/",
        {
            "channel": "call",
            "direction": "out",
            "summary": "far",
            "occurred_at": "9999-12-31T23:59",
        },
    )
    assert response.status_code < 500
    assert b"Date out of range" in response.content
    assert not Interaction.objects.filter(party=person, summary="far").exists()


def test_every_kith_form_gets_the_input_rules():
    import importlib
    import pkgutil

    from django import forms

    import kith
    from kith.core.inputs import CleanFormMixin

    for module in pkgutil.walk_packages(kith.__path__, "kith."):
        if module.name.endswith((".forms", ".views")):
            importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    kith_forms = [f for f in subclasses(forms.BaseForm) if f.__module__.startswith("kith.")]
    assert len(kith_forms) > 20
    assert [f.__qualname__ for f in kith_forms if not issubclass(f, CleanFormMixin)] == []


def test_an_ics_file_with_dates_out_of_range_is_reported_not_a_500(alice):
    from kith.work.models import Meeting

    client, headers = _client(alice)
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//EN",
            "BEGIN:VEVENT",
            "UID:far@example.org",
            "SUMMARY:Far away",
            "DTSTART;TZID=America/New_York:99991231T220000",
            "DTEND;TZID=America/New_York:99991231T235959",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    response = _send(client, headers, "post", "/api/meetings/import", json.dumps({"content": ics}))
    assert response.status_code < 500, response.content[:300]
    assert "Date out of range" in response.content.decode()
    assert not Meeting.objects.filter(title="Far away").exists()


@pytest.mark.parametrize(
    "body",
    [
        "[null, null]",
        '"hello"',
        '{"content": "a\\u0000b"}',
        '{"content": "x", "mapping": {"a": "b\\u0000"}}',
    ],
)
def test_an_import_body_validated_in_the_view_gets_the_same_rules(alice, body):
    client, headers = _client(alice)
    _error(_send(client, headers, "post", "/api/imports/preview", body), 422)


def test_an_email_date_out_of_range_counts_as_no_date():
    from kith.service.mailparse import parse

    raw = (
        b"From: Ana <ana@example.org>\r\nTo: help@example.com\r\nSubject: Far\r\n"
        b"Message-ID: <far@example.org>\r\nDate: Fri, 31 Dec 9999 23:59:59 -0500\r\n\r\nHello\r\n"
    )
    assert parse(raw).date is None


def _traced_lines(func, *args) -> int:
    """Python lines executed by ``func(*args)``: a count of work that does not depend on
    the machine's speed (no timing in tests)."""
    import sys

    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        func(*args)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize(
    "check",
    ["tags", "interests", "union"],
)
def test_duplicate_checks_are_linear(check):
    from kith.people import merging
    from kith.people import services as people_services

    def run(n: int) -> None:
        values = [f"value {i}" for i in range(n)]
        if check == "tags":
            people_services._validate_tags(values)
        elif check == "interests":
            people_services._clean_interests(values, [])
        else:
            merging._union(values[: n // 2], values)

    small, large = _traced_lines(run, 200), _traced_lines(run, 800)
    # Linear work grows 4x for 4x the input; the old set-per-item checks grew 16x.
    assert large < 6 * small
