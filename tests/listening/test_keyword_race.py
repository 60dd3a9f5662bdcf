"""Two admins adding the same keyword at once (real threads, PostgreSQL): one keyword,
and the other gets the field error, never a 500."""

from __future__ import annotations

import pytest

from kith.core.errors import ValidationFailed
from kith.listening import services
from kith.listening.models import Keyword
from tests.concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only", "restore_migration_seed"),
]


def test_the_same_term_added_at_once_is_one_keyword(alice):
    n = 8
    _, errors = run_together(
        lambda i: services.create_keyword(actor=alice, term="Acme" if i % 2 else " ACME "),
        range(n),
    )
    refused = [e for e in errors if isinstance(e, ValidationFailed)]
    other = [e for e in errors if not isinstance(e, ValidationFailed)]
    assert other == []
    assert Keyword.objects.filter(normalized="acme").count() == 1
    assert len(refused) == n - 1
    assert {e.errors[0].field for e in refused} == {"term"}
