"""Benchmark the transparency log: person page and timeline p95 with the log on and off.

    .venv/bin/python benchmarks/transparency.py                 # SQLite
    .venv/bin/python benchmarks/transparency.py --db postgres

A fresh database (a SQLite file under /tmp/kith-benchmarks, or a PostgreSQL database
``kith_bench_transparency`` created at ``KITH_BENCH_PG_URL``) is migrated and filled with
bulk inserts: ``--people`` customers with ``--interactions`` interactions each, and one
staff agent. Each person is then read through Django's full request stack (test client:
every middleware, the response closed as a WSGI server closes it, which is when the
log is written) twice — once with ``KITH_CMR_TRANSPARENCY`` on, once off, in a random
order per person — so both arms see the same people, caches and machine load. Every
"on" read is the first read of that person in its window, so each one pays for a real
insert (the worst case; later reads in the window coalesce into the same row).

Printed: p50/p95 per page and arm, and the p95 difference in per cent.
Target (issue 11): the log on stays within 10 % of the same run with it off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "kith_bench_transparency"


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
    path = base / "transparency-bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fill(people: int, interactions: int):
    from kith.accounts.models import Role, User
    from kith.interactions.models import Interaction
    from kith.people.models import Party

    rows = Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Person {i}", sort_name=f"person {i:06d}")
            for i in range(people)
        ],
        batch_size=2000,
    )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    batch = []
    for person in rows:
        for i in range(interactions):
            batch.append(
                Interaction(
                    party=person,
                    channel="email" if i % 2 else "call",
                    direction="in",
                    kind="note",
                    occurred_at=start + dt.timedelta(hours=i),
                    summary=f"Interaction {i} of {person.display_name}",
                    body="Lorem ipsum dolor sit amet. " * 4,
                )
            )
        if len(batch) >= 5000:
            Interaction.objects.bulk_create(batch, batch_size=2000)
            batch = []
    Interaction.objects.bulk_create(batch, batch_size=2000)
    staff = User.objects.create_user(username="bench-agent", role=Role.AGENT, kind="staff")
    return rows, staff


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    os.environ["DATABASE_URL"] = setup_database(args.db)
    os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-transparency-bench-"))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kith.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from kith.cmr import transparency
    from kith.cmr.models import AccessLogEntry

    # What the "on" arm adds is the log's write: time it on its own as well (wall and
    # CPU), so a p95 that moves with the machine can be told from a write that got dearer.
    write_walls: list[float] = []
    write_cpu = [0.0]
    unwrapped_write = transparency.write

    def timed_write(reads):
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return unwrapped_write(reads)
        finally:
            write_walls.append((time.perf_counter() - began) * 1000)
            write_cpu[0] += time.process_time() - cpu

    transparency.write = timed_write

    settings.KITH_DELIVER_EVENTS_ON_COMMIT = False
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    people, staff = fill(args.people, args.interactions)
    client = Client()
    client.force_login(staff)

    def read(url: str) -> float:
        began = time.perf_counter()
        response = client.get(url)  # the test client closes it: the log is written
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        return elapsed * 1000

    # Warm-up, untimed: templates, imports, query plans.
    for person in people[:5]:
        for on in (True, False):
            settings.KITH_CMR_TRANSPARENCY = on
            read(f"/people/{person.public_id}/")
            read(f"/parties/{person.public_id}/timeline/")
    AccessLogEntry.objects.all().delete()

    rng = random.Random(args.seed)
    times: dict[tuple[str, bool], list[float]] = {
        (page, on): [] for page in ("person_page", "timeline") for on in (True, False)
    }
    for person in people[5:]:
        arms = [True, False]
        rng.shuffle(arms)
        for on in arms:
            settings.KITH_CMR_TRANSPARENCY = on
            times[("person_page", on)].append(read(f"/people/{person.public_id}/"))
        rng.shuffle(arms)
        for on in arms:
            settings.KITH_CMR_TRANSPARENCY = on
            # A fresh window for the timeline too: a staff member's first timeline
            # read of the person would coalesce with the page; measure the insert.
            if on:
                AccessLogEntry.objects.filter(person=person).delete()
            times[("timeline", on)].append(read(f"/parties/{person.public_id}/timeline/"))
    settings.KITH_CMR_TRANSPARENCY = True

    out: dict = {
        "db": args.db,
        "people": len(people) - 5,
        "interactions_per_person": args.interactions,
        "log_rows_written": AccessLogEntry.objects.count(),
    }
    within = True
    for page in ("person_page", "timeline"):
        on, off = times[(page, True)], times[(page, False)]
        p95_on, p95_off = _pct(on, 0.95), _pct(off, 0.95)
        diff = (p95_on - p95_off) / p95_off * 100
        within &= diff <= 10
        out[page] = {
            "p50_on_ms": round(statistics.median(on), 2),
            "p50_off_ms": round(statistics.median(off), 2),
            "p95_on_ms": round(p95_on, 2),
            "p95_off_ms": round(p95_off, 2),
            "p95_difference_pct": round(diff, 1),
        }
    out["log_write"] = {
        "writes": len(write_walls),
        "p50_wall_ms": round(statistics.median(write_walls), 3),
        "p95_wall_ms": round(_pct(write_walls, 0.95), 3),
        "max_wall_ms": round(max(write_walls), 3),
        "mean_cpu_ms": round(write_cpu[0] / len(write_walls) * 1000, 3),
    }
    out["target_pct"] = 10
    print(json.dumps(out, indent=1))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
