"""Service benchmark: the case queue view over 200,000 cases, through the real server,
on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/service_bench.py [--db sqlite|postgres|both] [--quick]
        [--cases 200000] [--runs 50] [--keep]

For each database it creates its own (a SQLite file under ``/tmp/kith-benchmarks/``, or
the PostgreSQL database ``kith_bench_service`` next to ``postgres://postgres@127.0.0.1:
5432/postgres``), migrates it with ``kith migrate``, sets up agents, queues, a business
calendar and SLA policies through the services, bulk-inserts requesters and cases with
the driver (``dataset.Loader``: SQLite ``executemany``, PostgreSQL ``COPY``), then serves
it with ``kith serve --no-worker`` and measures, one request after the other on a
keep-alive client (the helpers of ``run.py``):

* the queue view: ``GET /api/cases?queue=<one queue>&limit=50`` — the first page of one
  queue's open cases (new, open, pending customer) ordered by the next SLA due time, as
  an admin and as an agent of that queue (whose scope adds "my queues or assigned to me");
* the same filtered to breached cases, and the second page (cursor);
* ``GET /api/cases?assignee=me`` as the agent.

Target: queue view p95 ≤ 100 ms. ``--quick`` builds 20,000 cases. The database is
dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import run  # noqa: E402

ANCHOR = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
TARGET_P95_MS = 100.0
QUEUES = 10
AGENTS_PER_QUEUE = 4
REQUESTERS = 20_000
OPEN_SHARE = 0.3  # of the cases, still new/open/pending
PRIORITIES = (("low", 20), ("normal", 55), ("high", 18), ("urgent", 7))


class ServiceTarget(run.Target):
    """The benchmark database of this script: its own name and folder."""

    @property
    def tag(self) -> str:
        return f"service_{self.sizes.people}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"service-{self.db}-{self.sizes.people}"

    @property
    def pg_name(self) -> str:
        return "kith_bench_service"


log = run.log


# ---------------------------------------------------------------- data


def setup(rng: random.Random) -> dict[str, Any]:
    """Agents, queues, a calendar and SLA policies through the services."""
    from django.conf import settings

    from kith.accounts import services as accounts
    from kith.accounts.models import Role
    from kith.service import services

    # Forty throwaway logins: hashing their random passwords with PBKDF2 would cost
    # more than loading the cases. Only this loader process uses the cheap hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    agents = [
        accounts.create_user(
            actor=None, username=f"agent{i:02d}", password=uuid.uuid4().hex, role=Role.AGENT
        )
        for i in range(QUEUES * AGENTS_PER_QUEUE)
    ]
    calendar = services.create_calendar(
        actor=None,
        name="Office",
        timezone="Europe/Berlin",
        weekly_hours={str(d): [["09:00", "17:00"]] for d in range(5)},
        holidays=[dt.date(y, 12, 25) for y in (2024, 2025, 2026)],
    )
    policies = {
        p: services.create_sla_policy(
            actor=None,
            name=p,
            priority=p,
            first_response_minutes=fr,
            resolution_minutes=res,
            calendar=calendar,
        )
        for p, fr, res in (
            ("low", 480, 2400),
            ("normal", 240, 960),
            ("high", 120, 480),
            ("urgent", 30, 240),
        )
    }
    queues = [
        services.create_queue(
            actor=None,
            name=f"Queue {i}",
            agents=agents[i * AGENTS_PER_QUEUE : (i + 1) * AGENTS_PER_QUEUE],
        )
        for i in range(QUEUES)
    ]
    return {"agents": agents, "queues": queues, "policies": policies, "calendar": calendar}


def load_cases(target: ServiceTarget, n: int, seed: int) -> dict[str, Any]:
    from django.db import connection

    from kith.people.models import Party
    from kith.service.models import NO_DUE, Case

    rng = random.Random(seed)
    t0 = time.perf_counter()
    refs = setup(rng)
    schedule = refs["calendar"].schedule()
    connection.close()
    raw = target.raw_connection()
    vendor = "sqlite" if target.db == "sqlite" else "postgresql"
    if vendor == "sqlite":
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("BEGIN")
    else:
        raw.autocommit = False
    loader = dataset.Loader(vendor, raw, connection)
    people = (
        (
            loader.uid(uuid.UUID(int=rng.getrandbits(128), version=4)),
            loader.when(ANCHOR),
            loader.when(ANCHOR),
            "person",
            f"Requester {i:06d}",
            f"requester {i:06d}",
        )
        for i in range(REQUESTERS)
    )
    loader.insert(
        Party,
        ("public_id", "created_at", "updated_at", "kind", "display_name", "sort_name"),
        people,
        total=REQUESTERS,
    )
    cursor = raw.execute('SELECT id FROM "people_party" ORDER BY id')
    party_ids = [row[0] for row in cursor.fetchall()]
    queue_agents = [
        [a.pk for a in refs["agents"][i * AGENTS_PER_QUEUE : (i + 1) * AGENTS_PER_QUEUE]]
        for i in range(QUEUES)
    ]
    prio_values = [p for p, _ in PRIORITIES]
    prio_weights = [w for _, w in PRIORITIES]
    policy_ids = {p: pol.pk for p, pol in refs["policies"].items()}
    targets = {
        p: (pol.first_response_minutes * 60, pol.resolution_minutes * 60)
        for p, pol in refs["policies"].items()
    }
    # Due times come from the real business-time arithmetic, computed once per
    # (priority, creation hour) so 200,000 cases load in seconds.
    due_cache: dict[tuple[str, dt.datetime], tuple[dt.datetime, dt.datetime]] = {}

    def dues(priority: str, created: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        hour = created.replace(minute=0, second=0, microsecond=0)
        key = (priority, hour)
        if key not in due_cache:
            first, resolution = targets[priority]
            due_cache[key] = (schedule.add(hour, first), schedule.add(hour, resolution))
        offset = created - hour
        a, b = due_cache[key]
        return a + offset, b + offset

    counts = {"open": 0, "breached": 0}

    def rows():
        for i in range(n):
            q = i % QUEUES
            priority = rng.choices(prio_values, weights=prio_weights)[0]
            is_open = rng.random() < OPEN_SHARE
            if is_open:
                created = ANCHOR - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 45))
                status = rng.choice(("new", "open", "open", "pending_customer"))
            else:
                created = ANCHOR - dt.timedelta(minutes=rng.randint(60 * 24 * 10, 60 * 24 * 730))
                status = rng.choice(("resolved", "closed", "closed"))
            first_due, resolution_due = dues(priority, created)
            responded = (
                None if status == "new" else created + dt.timedelta(minutes=rng.randint(5, 600))
            )
            resolved = None if is_open else created + dt.timedelta(hours=rng.randint(1, 200))
            first_breached = (responded or ANCHOR) > first_due
            resolution_breached = (resolved or ANCHOR) > resolution_due
            if status == "pending_customer":
                resolution_breached = False
            breached = first_breached or resolution_breached
            if is_open:
                next_due = first_due if responded is None else resolution_due
                counts["open"] += 1
                counts["breached"] += int(breached)
            else:
                next_due = NO_DUE
            agents = queue_agents[q]
            yield (
                loader.uid(uuid.UUID(int=rng.getrandbits(128), version=4)),
                loader.when(created),
                loader.when(resolved or responded or created),
                i + 1,
                f"Case {i + 1} about something that broke",
                party_ids[rng.randrange(len(party_ids))],
                refs["queues"][q].pk,
                agents[rng.randrange(len(agents))] if rng.random() < 0.85 else None,
                priority,
                status,
                "email",
                policy_ids[priority],
                loader.when(first_due),
                loader.when(resolution_due),
                loader.when(next_due),
                loader.when(responded) if responded else None,
                loader.when(resolved) if resolved else None,
                loader.flag(first_breached),
                loader.flag(resolution_breached),
                loader.flag(breached),
                loader.when(responded + dt.timedelta(minutes=1))
                if status == "pending_customer" and responded
                else None,
            )

    loader.insert(
        Case,
        (
            "public_id",
            "created_at",
            "updated_at",
            "number",
            "subject",
            "requester_id",
            "queue_id",
            "assignee_id",
            "priority",
            "status",
            "origin",
            "sla_policy_id",
            "first_response_due_at",
            "resolution_due_at",
            "next_due_at",
            "first_responded_at",
            "resolved_at",
            "first_response_breached",
            "resolution_breached",
            "breached",
            "paused_at",
        ),
        rows(),
        total=n,
    )
    if vendor == "postgresql":
        raw.commit()
        raw.autocommit = True  # VACUUM cannot run inside a transaction
    else:
        raw.execute("COMMIT")
    raw.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
    raw.close()
    return {
        "cases": n,
        "open": counts["open"],
        "open_breached": counts["breached"],
        "load_seconds": round(time.perf_counter() - t0, 1),
        "queue": str(refs["queues"][0].public_id),
        "agent": refs["agents"][0].username,
    }


# ---------------------------------------------------------------- measuring


def bench_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = dataset.Sizes(people=args.cases, interactions=0)
    target = ServiceTarget(db, sizes, Path(args.base_dir))
    result: dict[str, Any] = {"db": db, "cases": args.cases}
    unreachable = target.reachable()
    if unreachable:
        log(f"PostgreSQL at {target.pg_admin_url} is not reachable ({unreachable}); skipping it.")
        return {**result, "skipped": unreachable}
    os.environ.update(target.env())
    if db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    log(f"Creating the {db} database ({target.database_url})")
    target.create()
    migrated = run.kith(target, "migrate", "-v0")
    if migrated.returncode:
        raise SystemExit(f"kith migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    result["load"] = load_cases(target, args.cases, args.seed)
    log(
        f"  {args.cases:,} cases ({result['load']['open']:,} open, "
        f"{result['load']['open_breached']:,} of them breached) loaded in "
        f"{result['load']['load_seconds']} s"
    )
    admin = run.admin_token()
    agent = run.token_for(result["load"]["agent"], "service benchmark")
    from django.db import connection

    connection.close()
    import httpx

    queue = result["load"]["queue"]
    figures: dict[str, Any] = {}
    result["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    with run.serving(target) as (base, _pid):
        log(f"Measuring {db} through {base} (load average {result['loadavg_before']}) …")
        with httpx.Client(base_url=base, timeout=60) as client:
            client.headers["Authorization"] = f"Bearer {admin}"
            figures["floor_api_me"] = run.measure_get(client, "/api/me", {}, args.runs)
            view = {"queue": queue, "limit": 50}
            figures["queue_view_admin"] = run.measure_get(client, "/api/cases", view, args.runs)
            first = client.get("/api/cases", params=view).json()
            result["first_page_items"] = len(first["items"])
            figures["queue_view_page2"] = run.measure_get(
                client, "/api/cases", {**view, "cursor": first["next_cursor"]}, args.runs
            )
            figures["queue_view_breached"] = run.measure_get(
                client, "/api/cases", {**view, "breached": "true"}, args.runs
            )
            client.headers["Authorization"] = f"Bearer {agent}"
            figures["queue_view_agent"] = run.measure_get(client, "/api/cases", view, args.runs)
            figures["my_cases_agent"] = run.measure_get(
                client, "/api/cases", {"assignee": "me", "limit": 50}, args.runs
            )
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["figures"] = figures
    if args.keep:
        log(f"Kept the {db} database ({target.database_url}).")
    else:
        target.drop()
        log(f"Dropped the {db} database.")
    return result


# ---------------------------------------------------------------- report


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "",
        f"Service benchmark — case queue view target p95 ≤ {TARGET_P95_MS:.0f} ms",
        f"{'database':<10} {'cases':>8} {'load s':>7}  {'measure':<22} {'p50 ms':>8} {'p95 ms':>8}  verdict",
    ]
    for r in results:
        if r.get("skipped"):
            lines.append(f"{r['db']:<10} skipped: {r['skipped']}")
            continue
        first = True
        for name, fig in r["figures"].items():
            verdict = ""
            if name.startswith(("queue_view", "my_cases")):
                verdict = "ok" if fig["p95_ms"] <= TARGET_P95_MS else "MISSED"
            lines.append(
                f"{r['db'] if first else '':<10} {r['cases'] if first else '':>8} "
                f"{r['load']['load_seconds'] if first else '':>7}  {name:<22} "
                f"{fig['p50_ms']:>8.1f} {fig['p95_ms']:>8.1f}  {verdict}"
            )
            first = False
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 cases")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--base-dir", default=os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks")
    )
    parser.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.cases = 20_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.db == "both":
        results = run.each_database(__file__, argv, {"cases": args.cases})
    else:
        results = [bench_database(args.db, args)]
        if args.json_out:
            Path(args.json_out).write_text(dataset.dumps(results[0]))
            return
    print(table(results))
    run.save_results("service", results)


if __name__ == "__main__":
    main()
