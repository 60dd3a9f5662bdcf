"""Benchmark kith.cmr: the "My data" JSON export of a person with many interactions.

    .venv/bin/python benchmarks/cmr_export.py                  # SQLite, 10,000 interactions
    .venv/bin/python benchmarks/cmr_export.py --db postgres

A fresh database (a SQLite file under /tmp/kith-benchmarks, or a PostgreSQL database
``kith_bench_cmr`` created at ``KITH_BENCH_PG_URL``) is migrated and filled with bulk
inserts: one customer with N interactions and N/10 transactions, a consent change with
its signed receipt, and 20 other people with as many interactions again (noise the
export must skip). The export (``services.export_person``: every registered model's
rows, audited) plus its JSON encoding is timed in this process, after one untimed run;
figures are wall-clock seconds. Target (issue 11): ≤ 2 s for 10,000 interactions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "kith_bench_cmr"


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def setup_database(db: str) -> str:
    if db == "postgres":
        _pg(f"DROP DATABASE IF EXISTS {PG_DB}")
        _pg(f"CREATE DATABASE {PG_DB}")
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    base = Path(os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks"))
    base.mkdir(parents=True, exist_ok=True)
    path = base / "cmr-bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fill(n: int):
    from kith.cmr import services
    from kith.interactions.models import Interaction, Transaction
    from kith.people.models import Party

    people = Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Person {i}", sort_name=f"person {i}")
            for i in range(21)
        ]
    )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for index, person in enumerate(people):
        count = n if index == 0 else n // 20
        Interaction.objects.bulk_create(
            [
                Interaction(
                    party=person,
                    channel="email",
                    direction="in",
                    kind="note",
                    occurred_at=start + dt.timedelta(minutes=i),
                    summary=f"Interaction {i} of {person.display_name}",
                    body="Lorem ipsum dolor sit amet. " * 8,
                )
                for i in range(count)
            ],
            batch_size=2000,
        )
    Transaction.objects.bulk_create(
        [
            Transaction(
                party=people[0],
                kind="order",
                amount=Decimal("19.90"),
                currency="EUR",
                occurred_at=start + dt.timedelta(hours=i),
            )
            for i in range(n // 10)
        ],
        batch_size=2000,
    )
    services.set_consent(
        actor=None, person=people[0], purpose="marketing_email", granted=True, source="import"
    )
    return people[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--interactions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    os.environ["DATABASE_URL"] = setup_database(args.db)
    os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-cmr-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kith.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from kith.cmr import services

    settings.KITH_DELIVER_EVENTS_ON_COMMIT = False
    call_command("migrate", verbosity=0)
    person = fill(args.interactions)

    def once() -> tuple[float, int, int]:
        began = time.perf_counter()
        document = services.export_person(actor=None, person=person)
        encoded = json.dumps(document)
        return time.perf_counter() - began, len(encoded), len(document["sections"])

    once()  # warm caches and imports
    timings = []
    for _ in range(args.runs):
        seconds, size, sections = once()
        timings.append(seconds)
    print(
        json.dumps(
            {
                "db": args.db,
                "interactions": args.interactions,
                "sections": sections,
                "bytes": size,
                "export_s_median": round(statistics.median(timings), 3),
                "export_s_max": round(max(timings), 3),
                "target_s": 2.0,
            }
        )
    )
    return 0 if max(timings) <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
