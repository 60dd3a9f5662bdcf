"""Two admins adding the same keyword at once (real threads, PostgreSQL): one keyword,
and the other gets the field error, never a 500."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kith.core.errors import ValidationFailed
from kith.listening import services
from kith.listening.models import Keyword

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("restore_migration_seed"),
]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SKIPPED ON SQLITE: real concurrent writers need PostgreSQL (SQLite "
            "serialises writers); run with DATABASE_URL=postgres://…"
        )


def test_the_same_term_added_at_once_is_one_keyword(alice):
    n = 8
    barrier = threading.Barrier(n)
    refused: list[ValidationFailed] = []
    other: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            services.create_keyword(actor=alice, term="Acme" if i % 2 else " ACME ")
        except ValidationFailed as exc:
            refused.append(exc)
        except BaseException as exc:
            other.append(exc)
        finally:
            connection.close()

    connection.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other == []
    assert Keyword.objects.filter(normalized="acme").count() == 1
    assert len(refused) == n - 1
    assert {e.errors[0].field for e in refused} == {"term"}
