"""Sales benchmark: the forecast over 100,000 deals, through the real server, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/sales_bench.py [--db sqlite|postgres|both] [--quick]
        [--deals 100000] [--runs 50] [--keep]

For each database it creates its own (a SQLite file under ``/tmp/kith-benchmarks/``, or
the PostgreSQL database ``kith_bench_sales`` next to ``postgres://postgres@127.0.0.1:5432/
postgres``), migrates it with ``kith migrate``, bulk-inserts the deals with the driver
(``dataset.Loader``: SQLite ``executemany``, PostgreSQL ``COPY``) together with their
creation in the stage history and the moves of closed deals, then serves it with
``kith serve --no-worker`` and measures, one request after the other on a keep-alive
client (the helpers of ``run.py``):

* ``GET /api/forecast?period=quarter&group=owner&from=…&to=…`` as an admin (three years,
  every deal in range; amounts in three currencies converted with stored rates);
* the same by month and team;
* the same as an agent, whose deals are limited by owner/team/everyone visibility;
* ``GET /api/conversion`` over a year (per-stage cohorts on the stage history).

Target: forecast p95 ≤ 100 ms. ``--quick`` builds 10,000 deals. The database is dropped
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import run  # noqa: E402

ANCHOR = dt.date(2026, 11, 1)
TARGET_P95_MS = 100.0
CURRENCIES = (("EUR", 80), ("USD", 15), ("GBP", 5))
RATES = {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}
OWNERS = 12
ORGANIZATIONS = 2000


class SalesTarget(run.Target):
    """The benchmark database of this script: its own name and folder."""

    @property
    def tag(self) -> str:
        return f"sales_{self.sizes.people}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"sales-{self.db}-{self.sizes.people}"

    @property
    def pg_name(self) -> str:
        return "kith_bench_sales"


log = run.log


# ---------------------------------------------------------------- data


def setup_people(rng: random.Random) -> dict[str, Any]:
    """Owners in two teams, an agent to measure with, organisations, rates (through the ORM)."""
    from kith.accounts import services as accounts
    from kith.accounts.models import Role
    from kith.people.models import Party
    from kith.sales import services

    owners = [
        accounts.create_user(
            actor=None, username=f"rep{i:02d}", password=uuid.uuid4().hex, role=Role.AGENT
        )
        for i in range(OWNERS)
    ]
    teams = [
        accounts.create_team(actor=None, name="North", members=owners[: OWNERS // 2]),
        accounts.create_team(actor=None, name="South", members=owners[OWNERS // 2 :]),
    ]
    orgs = Party.objects.bulk_create(
        [
            Party(
                kind=Party.Kind.ORGANIZATION,
                display_name=f"Company {i:05d}",
                sort_name=f"company {i:05d}",
            )
            for i in range(ORGANIZATIONS)
        ],
        batch_size=1000,
    )
    for code, rate in RATES.items():
        services.set_exchange_rate(
            actor=None, currency=code, rate=rate, valid_from=ANCHOR - dt.timedelta(days=1200)
        )
    return {"owners": owners, "teams": teams, "org_ids": [o.pk for o in orgs]}


def deal_rows(loader: dataset.Loader, n: int, rng: random.Random, refs: dict[str, Any]):
    """Deal rows and the stage history rows that go with them (two generators' worth)."""
    from kith.sales.models import Pipeline

    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.order_by("order"))
    open_stages = [s for s in stages if not (s.is_won or s.is_lost)]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    codes = [c for c, _ in CURRENCIES]
    weights = [w for _, w in CURRENCIES]
    categories = ("pipeline", "pipeline", "best_case", "commit", "omitted")
    now = dt.datetime.combine(ANCHOR, dt.time(12), tzinfo=dt.UTC)
    deals, history = [], []
    for i in range(n):
        owner = rng.choice(refs["owners"])
        team = refs["teams"][0] if owner in refs["owners"][: OWNERS // 2] else refs["teams"][1]
        roll = rng.random()
        visibility = "everyone" if roll < 0.7 else ("team" if roll < 0.9 else "private")
        created = now - dt.timedelta(days=rng.randint(0, 900), seconds=rng.randint(0, 86399))
        roll = rng.random()
        stage = won if roll < 0.3 else lost if roll < 0.5 else rng.choice(open_stages)
        closed = stage.is_won or stage.is_lost
        moved = created + dt.timedelta(days=rng.randint(5, 120)) if closed else created
        closed_on = moved.date() if closed else None
        expected = closed_on if closed else ANCHOR + dt.timedelta(days=rng.randint(-200, 400))
        forecast_date = closed_on or expected
        category = "closed" if closed else rng.choice(categories)
        deals.append(
            (
                loader.uid(uuid.UUID(int=rng.getrandbits(128), version=4)),
                loader.when(created),
                loader.when(moved),
                f"Deal {i:06d}",
                rng.choice(refs["org_ids"]),
                owner.pk,
                team.pk,
                visibility,
                loader.money(Decimal(rng.randint(5, 5000) * 100)),
                rng.choices(codes, weights=weights)[0],
                pipeline.pk,
                stage.pk,
                stage.probability,
                category,
                loader.day(expected),
                loader.day(closed_on),
                loader.when(moved),
                loader.day(forecast_date),
                forecast_date.year * 100 + forecast_date.month,
                loader.flag(stage.is_won),
            )
        )
        history.append((i, None, open_stages[0].pk, created, None))
        if closed:
            history.append(
                (i, open_stages[0].pk, stage.pk, moved, int((moved - created).total_seconds()))
            )
    return deals, history


DEAL_COLUMNS = (
    "public_id",
    "created_at",
    "updated_at",
    "title",
    "organization_id",
    "owner_id",
    "team_id",
    "visibility",
    "amount",
    "currency",
    "pipeline_id",
    "stage_id",
    "probability",
    "forecast_category",
    "expected_close_date",
    "closed_on",
    "stage_entered_at",
    "forecast_date",
    "forecast_month",
    "is_won",
)


def load_deals(target: SalesTarget, n: int, seed: int) -> dict[str, Any]:
    from django.db import connection

    from kith.sales.models import Deal, StageChange

    rng = random.Random(seed)
    t0 = time.perf_counter()
    refs = setup_people(rng)
    connection.close()
    raw = target.raw_connection()
    vendor = "sqlite" if target.db == "sqlite" else "postgresql"
    if vendor == "sqlite":
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("BEGIN")
    else:
        raw.autocommit = False
    loader = dataset.Loader(vendor, raw, connection)
    deals, history = deal_rows(loader, n, rng, refs)
    loader.insert(Deal, DEAL_COLUMNS, iter(deals), total=n)
    # The deals' ids, in insertion order, to attach their history.
    cursor = raw.execute('SELECT id FROM "sales_deal" ORDER BY id')
    ids = [row[0] for row in cursor.fetchall()]
    rows = (
        (
            loader.uid(uuid.UUID(int=rng.getrandbits(128), version=4)),
            loader.when(at),
            loader.when(at),
            ids[i],
            from_id,
            to_id,
            loader.when(at),
            seconds,
        )
        for i, from_id, to_id, at, seconds in history
    )
    loader.insert(
        StageChange,
        (
            "public_id",
            "created_at",
            "updated_at",
            "deal_id",
            "from_stage_id",
            "to_stage_id",
            "changed_at",
            "seconds_in_from_stage",
        ),
        rows,
    )
    if vendor == "postgresql":
        raw.commit()
    else:
        raw.execute("COMMIT")
    raw.close()
    # The deals went in behind the services: sum them into the forecast's running totals,
    # as the demo loader does (``kith.sales.services.rebuild_forecast_cells``).
    from kith.sales.services import rebuild_forecast_cells

    t1 = time.perf_counter()
    cells = rebuild_forecast_cells()
    rebuild_seconds = round(time.perf_counter() - t1, 1)
    connection.close()
    raw = target.raw_connection()
    raw.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
    raw.close()
    return {
        "deals": n,
        "stage_changes": len(history),
        "forecast_cells": cells,
        "cells_rebuild_seconds": rebuild_seconds,
        "load_seconds": round(time.perf_counter() - t0, 1),
    }


# ---------------------------------------------------------------- measuring


def in_process(runs: int) -> dict[str, Any]:
    """``kith.sales.queries.forecast`` called directly (no HTTP, no JSON): the query cost."""
    from kith.accounts.models import User
    from kith.sales import queries

    admin = User.objects.get(username="bench-admin")
    start = (ANCHOR - dt.timedelta(days=730)).replace(day=1)
    end = ANCHOR + dt.timedelta(days=365)

    def call():
        return queries.forecast(admin, period="quarter", group="owner", start=start, end=end)

    for _ in range(3):
        call()
    return run.summary([run.timed(call)[0] for _ in range(runs)])


def bench_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = dataset.Sizes(people=args.deals, interactions=0)
    target = SalesTarget(db, sizes, Path(args.base_dir))
    result: dict[str, Any] = {"db": db, "deals": args.deals}
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
    result["load"] = load_deals(target, args.deals, args.seed)
    log(
        f"  {args.deals:,} deals and {result['load']['stage_changes']:,} stage changes "
        f"loaded in {result['load']['load_seconds']} s "
        f"({result['load']['forecast_cells']:,} forecast cells rebuilt in "
        f"{result['load']['cells_rebuild_seconds']} s)"
    )
    admin = run.admin_token()
    agent = run.token_for("rep00", "sales benchmark")
    from django.db import connection

    result["in_process"] = in_process(args.runs)
    connection.close()
    import httpx

    window = {
        "from": (ANCHOR - dt.timedelta(days=730)).replace(day=1).isoformat(),
        "to": (ANCHOR + dt.timedelta(days=365)).isoformat(),
    }
    figures: dict[str, Any] = {}
    result["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    with run.serving(target) as (base, _pid):
        log(f"Measuring {db} through {base} (load average {result['loadavg_before']}) …")
        with httpx.Client(base_url=base, timeout=60) as client:
            client.headers["Authorization"] = f"Bearer {admin}"
            # The cheapest authenticated request: the floor under every figure below.
            figures["floor_api_me"] = run.measure_get(client, "/api/me", {}, args.runs)
            figures["forecast_quarter_owner"] = run.measure_get(
                client,
                "/api/forecast",
                {"period": "quarter", "group": "owner", **window},
                args.runs,
            )
            figures["forecast_month_team"] = run.measure_get(
                client, "/api/forecast", {"period": "month", "group": "team", **window}, args.runs
            )
            client.headers["Authorization"] = f"Bearer {agent}"
            figures["forecast_agent"] = run.measure_get(
                client,
                "/api/forecast",
                {"period": "quarter", "group": "owner", **window},
                args.runs,
            )
            client.headers["Authorization"] = f"Bearer {admin}"
            check = client.get("/api/forecast", params={"period": "quarter", **window}).json()
            result["forecast_totals"] = check["totals"]
            figures["conversion_year"] = run.measure_get(
                client,
                "/api/conversion",
                {"from": (ANCHOR - dt.timedelta(days=365)).isoformat(), "to": ANCHOR.isoformat()},
                max(10, args.runs // 2),
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
        f"Sales benchmark — forecast target p95 ≤ {TARGET_P95_MS:.0f} ms",
        f"{'database':<10} {'deals':>8} {'load s':>7}  {'measure':<24} {'p50 ms':>8} {'p95 ms':>8}  verdict",
    ]
    for r in results:
        if r.get("skipped"):
            lines.append(f"{r['db']:<10} skipped: {r['skipped']}")
            continue
        first = True
        for name, fig in r["figures"].items():
            verdict = ""
            if name.startswith("forecast"):
                verdict = "ok" if fig["p95_ms"] <= TARGET_P95_MS else "MISSED"
            lines.append(
                f"{r['db'] if first else '':<10} {r['deals'] if first else '':>8} "
                f"{r['load']['load_seconds'] if first else '':>7}  {name:<24} "
                f"{fig['p50_ms']:>8.1f} {fig['p95_ms']:>8.1f}  {verdict}"
            )
            first = False
        if r.get("in_process"):
            fig = r["in_process"]
            lines.append(
                f"{'':<10} {'':>8} {'':>7}  {'forecast in process':<24} "
                f"{fig['p50_ms']:>8.1f} {fig['p95_ms']:>8.1f}  (ORM query + folding, no HTTP)"
            )
        if r.get("loadavg_before"):
            lines.append(
                f"{'':<10} load average before/after: {r['loadavg_before']} / {r['loadavg_after']}"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 deals")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--base-dir", default=os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks")
    )
    parser.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.deals = 10_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.db == "both":
        results = run.each_database(__file__, argv, {"deals": args.deals})
    else:
        results = [bench_database(args.db, args)]
        if args.json_out:
            Path(args.json_out).write_text(dataset.dumps(results[0]))
            return
    print(table(results))
    for r in results:
        if r.get("forecast_totals"):
            print(f"{r['db']}: forecast totals (EUR) {r['forecast_totals']}")
    run.save_results("sales", results)


if __name__ == "__main__":
    main()
