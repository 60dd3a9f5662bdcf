"""A token's "last used" note is bookkeeping: a busy database must not fail the request."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.models.query import QuerySet

from kith.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_request_succeeds_when_the_last_use_cannot_be_written(alice, api_as, monkeypatch):
    client = api_as(alice)
    real_update = QuerySet.update

    def busy(self, **kwargs):
        if self.model is ApiToken:
            raise OperationalError("database is locked")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", busy)
    response = client.get("/api/me")
    assert response.status_code == 200, response.content
    assert ApiToken.objects.get(user=alice).last_used_at is None

    monkeypatch.setattr(QuerySet, "update", real_update)
    assert client.get("/api/me").status_code == 200
    assert ApiToken.objects.get(user=alice).last_used_at is not None
