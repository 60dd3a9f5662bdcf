"""An import's statements grow with its chunks, not its rows (bulk writes per chunk)."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.people import importing

pytestmark = pytest.mark.django_db


def _csv(n: int, tag: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["First name", "Last name", "Email", "Phone", "Company", "Tags", "Notes"])
    for i in range(n):
        writer.writerow(
            [
                "Ana",
                f"Row{tag}{i}",
                f"row-{tag}-{i}@example.org",
                f"+44 20 7946 {(i + 5000 * (tag == 'b')) % 10000:04d}" if i % 2 else "",
                ("Acme Ltd", "Hooli Inc", "")[i % 3],
                "imported, statement-test",
                "met at a fair",
            ]
        )
    return out.getvalue().encode()


def _statements(alice, n: int, tag: str) -> int:
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="t.csv",
        content=_csv(n, tag),
        mapping=None,
        dry_run=False,
    )
    with CaptureQueriesContext(connection) as queries:
        done = importing.run_import_job(job.pk)
    assert done.created_count == n, done.errors
    return len(queries)


def test_an_import_runs_statements_per_chunk_not_per_row(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 100)
    one_chunk = _statements(alice, 100, "a")
    five_chunks = _statements(alice, 500, "b")
    print(f"statements: 100 rows {one_chunk}, 500 rows {five_chunks}")
    # Each chunk costs about what the first did (a few dozen statements), whatever its
    # rows: 500 rows one by one would be thousands.
    assert five_chunks <= 5 * one_chunk + 10
    assert five_chunks < 500
