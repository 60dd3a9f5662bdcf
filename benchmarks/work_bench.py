"""Benchmark kith.work: "My day" for a user with many activities, the activity list API
and the calendar feed.

    .venv/bin/python benchmarks/work_bench.py --quick                # SQLite, 10,000 activities
    .venv/bin/python benchmarks/work_bench.py --quick --db postgres

A fresh database (a SQLite file under /tmp/kith-benchmarks, or a PostgreSQL database
``kith_bench_work`` created and dropped at ``KITH_BENCH_PG_URL``) is migrated, then
filled with bulk inserts: one user ("bench", Europe/Lisbon) with N activities whose
deadlines spread over two years (half of them done), as many again for other users
(noise the queries must skip), 1,000 people, and 500 meetings in the user's calendar.
Requests go through Django's test client in this process (no HTTP server), logged in,
each page requested once untimed first; figures are p50 / p95 wall-clock milliseconds.
No target is set for this part of issue 3; the figures are printed for the record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "kith_bench_work"


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
    path = base / "work-bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fill(n_activities: int, seed: int = 7) -> dict:
    """Write the data set with bulk inserts; returns ids the measurements need."""
    from django.contrib.contenttypes.models import ContentType

    from kith.accounts import services as accounts
    from kith.people.models import Party
    from kith.work.models import Activity, ActivityType, Meeting, MeetingAttendee

    rng = random.Random(seed)
    user = accounts.create_user(actor=None, username="bench", password="bench-password-123")
    user.timezone = "Europe/Lisbon"
    user.save()
    others = [
        accounts.create_user(actor=None, username=f"other{i}", password="bench-password-123")
        for i in range(5)
    ]
    people = Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Person {i:05d}", sort_name=f"person {i:05d}")
            for i in range(1000)
        ],
        batch_size=1000,
    )
    types = list(ActivityType.objects.all())
    party_type = ContentType.objects.get_for_model(Party)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)

    def activity(assignee) -> Activity:
        party = rng.choice(people)
        deadline = today + dt.timedelta(days=rng.randint(-365, 365))
        done = (deadline < today and rng.random() < 0.5) or rng.random() < 0.1
        return Activity(
            type=rng.choice(types),
            summary=f"Activity {rng.randint(0, 10**6)}",
            record_type=party_type,
            record_id=party.pk,
            party=party,
            assignee=assignee,
            created_by=assignee,
            deadline=deadline,
            timezone="Europe/Lisbon",
            done_at=now if done else None,
            done_by=assignee if done else None,
        )

    rows = [activity(user) for _ in range(n_activities)]
    rows += [activity(rng.choice(others)) for _ in range(n_activities)]
    Activity.objects.bulk_create(rows, batch_size=2000)
    meetings = []
    for _ in range(500):
        start = now + dt.timedelta(hours=rng.randint(-24 * 60, 24 * 60))
        public_id = uuid.uuid4()
        meetings.append(
            Meeting(
                public_id=public_id,
                title="Meeting",
                start=start,
                end=start + dt.timedelta(minutes=45),
                timezone="Europe/Lisbon",
                organizer=user,
                uid=f"{public_id}@kith",
            )
        )
    Meeting.objects.bulk_create(meetings, batch_size=1000)
    MeetingAttendee.objects.bulk_create(
        [MeetingAttendee(meeting=m, party=rng.choice(people)) for m in meetings], batch_size=1000
    )
    return {"user": user}


def measure(client, url: str, samples: int) -> dict:
    client.get(url)  # warm
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    return {
        "samples": samples,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 2),
        "bytes": len(response.content),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="10,000 activities (the default)")
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.activities = 10_000

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))
    url = setup_database(args.db)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")
    os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-work-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "kith.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    settings.KITH_DELIVER_EVENTS_ON_COMMIT = False
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    ids = fill(args.activities)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"data: {args.activities:,} activities for the user, {time.perf_counter() - started:.1f}s"
    )

    from kith.work import calendar, services

    user = ids["user"]
    client = Client()
    client.force_login(user)
    feed = services.regenerate_feed(actor=user)
    results = {
        "my_day": measure(client, "/work/", args.samples),
        "api_overdue": measure(
            client, "/api/activities?assignee=me&status=overdue&limit=50", args.samples
        ),
        "feed": measure(client, f"/work/calendar/{calendar.feed_token(feed)}.ics", args.samples),
    }
    # The first fetch after a change renders the whole feed: time that without the cache.
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        body = calendar.build_feed(user)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    results["feed_render"] = {
        "samples": 5,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[-1], 2),
        "bytes": len(body),
        "events": body.count(b"BEGIN:VEVENT"),
    }
    print(f"{'figure':<34}{'p50 ms':>10}{'p95 ms':>10}")
    labels = {
        "my_day": "GET /work/ (My day)",
        "api_overdue": "GET /api/activities?status=overdue",
        "feed": "GET calendar feed (.ics), cached",
        "feed_render": "feed render, uncached (max = p95)",
    }
    for key, row in results.items():
        print(f"{labels[key]:<34}{row['p50_ms']:>10}{row['p95_ms']:>10}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"db": args.db, "activities": args.activities, "results": results}
    payload["loadavg"] = os.getloadavg()
    (out / f"work-{stamp}-{args.db}.json").write_text(json.dumps(payload, indent=2))
    if args.db == "postgres":
        connection.close()
        _pg(f"DROP DATABASE IF EXISTS {PG_DB}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
