"""The prepared token lookup gives what the ORM query it replaces gave, and the token
rules (revoked, expired, inactive user, wrong secret) still hold through it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kith.accounts import services as account_services
from kith.accounts.auth import user_for_token
from kith.accounts.models import ApiToken
from kith.core.prepared import get_with_related

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state" and not k.startswith("_")}


def test_the_lookup_returns_the_rows_select_related_returns(alice):
    account_services.issue_token(actor=alice, user=alice, name="t")
    token = ApiToken.objects.get(user=alice)
    token.last_used_at = timezone.now()
    token.save()
    expected = ApiToken.objects.select_related("user").filter(key_id=token.key_id).first()
    with CaptureQueriesContext(connection) as queries:
        found = get_with_related(ApiToken, column="key_id", value=token.key_id, related="user")
    assert len(queries) == 1
    assert _fields(found) == _fields(expected)
    assert _fields(found.user) == _fields(expected.user)
    # Typed as the ORM types them (datetimes aware, ids UUIDs), and loaded, not new.
    assert found.last_used_at.tzinfo is not None
    assert found.public_id == expected.public_id
    assert not found._state.adding and found._state.db == "default"
    with CaptureQueriesContext(connection) as queries:
        assert found.user.pk == alice.pk  # the user came with the token
    assert len(queries) == 0
    assert get_with_related(ApiToken, column="key_id", value="nope", related="user") is None


def test_token_rules_hold(alice):
    _, secret = account_services.issue_token(actor=alice, user=alice, name="t")
    assert user_for_token(secret).pk == alice.pk
    assert user_for_token(secret[:-2] + "xx") is None
    token = ApiToken.objects.get(user=alice)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert user_for_token(secret) is None
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None, revoked_at=timezone.now())
    assert user_for_token(secret) is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    assert user_for_token(secret).pk == alice.pk
    alice.is_active = False
    alice.save()
    assert user_for_token(secret) is None


def test_an_authenticated_api_request_reads_its_token_once(alice, api_as):
    client = api_as(alice)
    client.get("/api/me")  # the last-use note, once a minute
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/me").status_code == 200
    token_reads = [q for q in queries if "accounts_apitoken" in q["sql"]]
    assert len(token_reads) == 1


def test_select_in_returns_the_rows_filter_in_returns(alice):
    from kith.core.prepared import select_in
    from kith.people.models import ContactPoint, Tag
    from tests.conftest import make_person

    make_person(alice, given="Ana", family="Lima", email="ana@example.org")
    make_person(alice, given="Bo", family="Lima", email="bo@example.org")
    wanted = ["ana@example.org", "bo@example.org", "nobody@example.org"]
    expected = {cp.pk: _fields(cp) for cp in ContactPoint.objects.filter(normalized__in=wanted)}
    found = select_in(ContactPoint, "normalized", wanted)
    assert {cp.pk: _fields(cp) for cp in found} == expected and len(expected) == 2
    assert all(not cp._state.adding for cp in found)
    assert found[0].party.family_name == "Lima"  # relations load as usual
    assert select_in(Tag, "name", []) == []
