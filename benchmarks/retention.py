"""Benchmark the retention job (``kith.core.retention``): how fast it deletes delivered
events with their delivery rows, and what one worker run of it costs.

    .venv/bin/python benchmarks/retention.py                 # SQLite
    .venv/bin/python benchmarks/retention.py --db postgres
    .venv/bin/python benchmarks/retention.py --events 200000 --deliveries 4

A fresh database (a SQLite file under /tmp/kith-benchmarks, or a PostgreSQL database
``kith_bench_retention`` created at ``KITH_BENCH_PG_URL``) is migrated and filled with
bulk inserts: ``--events`` delivered events (half of them past ``KITH_OUTBOX_KEEP_DAYS``)
with ``--deliveries`` delivery rows each, and as many pending events, which must stay.

Printed: what one worker run (the default budget of 2 s) deleted and its CPU, then a
run without a budget (``kith prune``): events and delivery rows deleted per second of
wall time, and CPU per thousand events. Target: none set; a worker run must stay short
(its budget) and a backlog of a busy day's events must go within a few runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "kith_bench_retention"


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def setup_database(db: str) -> str:
    if db == "postgres":
        _pg(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        _pg(f"CREATE DATABASE {PG_DB}")
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    base = Path(os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks"))
    base.mkdir(parents=True, exist_ok=True)
    path = base / "retention-bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fill(events: int, deliveries: int, keep_days: int) -> None:
    """Delivered events spread over twice the retention, each with its delivery rows,
    and as many pending ones."""
    from kith.core.models import EventDelivery, OutboxEvent

    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=2 * keep_days)
    for start in range(0, events, 5000):
        batch = []
        for i in range(start, min(start + 5000, events)):
            at = now - span * (i / events)
            for status in (OutboxEvent.Status.DONE, OutboxEvent.Status.PENDING):
                batch.append(
                    OutboxEvent(
                        name="person.created",
                        occurred_at=at,
                        available_at=at,
                        object_type="people.party",
                        object_id=i,
                        data={"display_name": f"Person {i}"},
                        status=status,
                        processed_at=at if status == OutboxEvent.Status.DONE else None,
                    )
                )
        made = OutboxEvent.objects.bulk_create(batch)
        EventDelivery.objects.bulk_create(
            EventDelivery(event=event, subscriber=f"bench.s{n}", delivered_at=now)
            for event in made
            if event.status == OutboxEvent.Status.DONE
            for n in range(deliveries)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=3)
    args = parser.parse_args()

    os.environ.update(
        DATABASE_URL=setup_database(args.db),
        KITH_DATA_DIR=tempfile.mkdtemp(prefix="kith-bench-retention-"),
        SECRET_KEY=os.environ.get("SECRET_KEY") or "kith-bench-retention-not-for-production-1234",
        DJANGO_SETTINGS_MODULE="kith.settings",
        KITH_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from kith.core import retention
    from kith.core.models import EventDelivery, OutboxEvent

    call_command("migrate", verbosity=0)
    keep = settings.KITH_OUTBOX_KEEP_DAYS
    print(f"filling: {args.events:,} delivered events × {args.deliveries} deliveries ({args.db})")
    fill(args.events, args.deliveries, keep)
    due = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.DONE,
        available_at__lt=dt.datetime.now(dt.UTC) - dt.timedelta(days=keep),
    ).count()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    one = retention.prune()  # what the worker does every minute
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(
        f"one worker run (budget 2 s): {one.events:,} events + {one.deliveries:,} deliveries "
        f"in {wall:.2f} s wall, {cpu:.2f} s CPU; more left: {bool(one.more)}"
    )

    cpu0, wall0 = time.process_time(), time.perf_counter()
    rest = retention.prune(budget_seconds=None)  # kith prune
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    events = rest.events
    if events:
        print(
            f"kith prune: {events:,} events + {rest.deliveries:,} deliveries in {wall:.2f} s: "
            f"{events / wall:,.0f} events/s ({(events + rest.deliveries) / wall:,.0f} rows/s), "
            f"{cpu * 1000 / events * 1000:.0f} ms CPU per 1,000 events"
        )
    else:
        print("kith prune: nothing left after the worker run (use more --events)")
    left_done = OutboxEvent.objects.filter(status=OutboxEvent.Status.DONE).count()
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).count()
    print(
        f"check: {one.events + events:,} deleted of {due:,} due; {left_done:,} younger delivered "
        f"and {pending:,} pending kept; {EventDelivery.objects.count():,} deliveries left"
    )
    if one.events + events != due or pending != args.events:
        raise SystemExit("retention deleted the wrong rows")


if __name__ == "__main__":
    main()
