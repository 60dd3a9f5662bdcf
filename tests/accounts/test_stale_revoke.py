"""Revoking an API token twice (two requests, each with its own copy) records one revocation."""

from __future__ import annotations

import pytest

from kith.accounts import services
from kith.accounts.models import ApiToken
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_revoking_twice_records_one_revocation(alice):
    token, _ = services.issue_token(actor=alice, user=alice, name="ci")
    one, two = ApiToken.objects.get(pk=token.pk), ApiToken.objects.get(pk=token.pk)
    services.revoke_token(actor=alice, token=one)
    again = services.revoke_token(actor=alice, token=two)
    assert again.revoked_at == ApiToken.objects.get(pk=token.pk).revoked_at == one.revoked_at
    assert AuditEntry.objects.filter(action="api_token.revoked", object_id=token.pk).count() == 1
