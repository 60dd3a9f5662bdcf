"""Global search (the command palette) benchmark: ``search_everything`` over many deals,
cases, activities, collaboration posts and ideas, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/global_search.py [--db sqlite|postgres] [--rows 100000]
        [--runs 60] [--keep] [--reuse]

It creates its own database (a SQLite file under ``/tmp/kith-benchmarks/`` or the
PostgreSQL database ``kith_bench_gsearch``), migrates it with ``kith migrate`` (which
builds the substring indexes of ``kith.web.global_search_index``), makes one record of
each kind through the services, then clones each ``--rows`` times with SQL (all columns
copied from the template row, fresh ``public_id``, unique numbers, a generated title of
three words from a 5,000-word vocabulary in which 20 words are common). It then times
``kith.web.global_search.search_everything`` in process (no HTTP) as an admin (who sees
everything: the most rows to match) and as an agent, for a mix of queries:

* ``rare``: one word found in a few dozen titles;
* ``common``: one word in about 1 title in 50;
* ``prefix``: the first 3-4 letters of a word, as typed;
* ``two``: two words of one title;
* ``none``: a word found nowhere.

Each figure is the p50 / p95 of one palette keystroke (every provider: people,
organisations, deals, cases, activities, posts, community topics, ideas). Target: p95
≤ 50 ms.
"""

from __future__ import annotations

import argparse
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

TARGET_MS = 50.0
SYLLABLES = ["ka", "lo", "mi", "ren", "tos", "vu", "ber", "zan", "qui", "dor", "pel", "fex"]
log = run.log


class SearchTarget(run.Target):
    @property
    def tag(self) -> str:
        return f"gsearch_{self.sizes.people}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"gsearch-{self.db}-{self.sizes.people}"

    @property
    def pg_name(self) -> str:
        return "kith_bench_gsearch"


def vocabulary(rng: random.Random, n: int = 5000) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < n:
        found.setdefault("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))), None)
    return list(found)


def templates() -> dict[str, Any]:
    """One record of each kind through the services; the users to search as."""
    from kith.accounts import services as accounts
    from kith.accounts.models import Role
    from kith.collab import services as collab
    from kith.people import services as people
    from kith.sales import services as sales
    from kith.service import services as service
    from kith.work import services as work
    from kith.work.models import ActivityType

    admin = accounts.create_user(
        actor=None, username="boss", password=uuid.uuid4().hex, role=Role.ADMIN
    )
    agent = accounts.create_user(
        actor=None, username="agent", password=uuid.uuid4().hex, role=Role.AGENT
    )
    org = people.create_party(
        actor=admin,
        data=people.PartyInput(kind="organization", fields={"display_name": "Template Org"}),
    )
    person = people.create_party(
        actor=admin,
        data=people.PartyInput(kind="person", fields={"given_name": "Tess", "family_name": "Tmpl"}),
    )
    made = {
        "deal": sales.create_deal(actor=admin, data={"title": "template", "organization": org}),
        "case": service.create_case(
            actor=admin, data=service.CaseInput(subject="template", requester=person)
        ),
        "activity": work.create_activity(
            actor=admin,
            type=ActivityType.objects.get(slug="call"),
            summary="template",
            record=person,
        ),
    }
    try:
        made["post"] = collab.create_post(actor=admin, target=person, body="template")
    except Exception as exc:  # the collab API differs: say so, measure the rest
        log(f"  (no collaboration post template: {exc})")
    try:
        from kith.ideas import services as ideas

        category = ideas.create_category(actor=admin, name="Template ideas")
        made["idea"] = ideas.create_idea(
            actor=admin, title="template", body="template", category=category
        )
    except Exception as exc:
        log(f"  (no idea template: {exc})")
    return {"admin": admin, "agent": agent, "made": made}


def clone(model, template, column: str, titles: list[str], rng: random.Random) -> int:
    """``len(titles)`` copies of ``template`` (SQL), each with its own title and unique values."""
    from django.db import connection

    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    unique = {f.column for f in fields if f.unique}
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    select = []
    for c in columns:
        select.append("%s" if c == column or c in unique else connection.ops.quote_name(c))
    sql = f"INSERT INTO {table} ({quoted}) SELECT {', '.join(select)} FROM {table} WHERE id = %s"
    base = 10_000_000
    rows = []
    for i, title in enumerate(titles):
        params = []
        for f in fields:
            if f.column == column:
                params.append(title)
            elif f.column in unique:
                kind = f.get_internal_type()
                if kind == "UUIDField":
                    value = uuid.UUID(int=rng.getrandbits(128), version=4)
                    params.append(value.hex if connection.vendor == "sqlite" else value)
                elif "Integer" in kind:
                    params.append(base + i)
                else:
                    params.append(f"{getattr(template, f.attname)}-{i}")
        params.append(template.pk)
        rows.append(params)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])
    return len(rows)


def load(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction

    rng = random.Random(args.seed)
    words = vocabulary(rng)
    common = words[:20]
    t0 = time.perf_counter()
    refs = templates()
    counts = {}
    columns = {
        "deal": "title",
        "case": "subject",
        "activity": "summary",
        "post": "body_markdown",
        "idea": "title",
    }
    for key, template in refs["made"].items():
        titles = []
        for _ in range(args.rows):
            picked = [rng.choice(words[20:]) for _ in range(3)]
            if rng.random() < 0.4:
                picked[rng.randrange(3)] = rng.choice(common)
            titles.append(" ".join(picked).capitalize())
        with transaction.atomic():
            counts[key] = clone(type(template), template, columns[key], titles, rng)
        log(f"  {counts[key]:,} {key} rows")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "rows": counts,
        "load_seconds": round(time.perf_counter() - t0, 1),
        "words": words,
    }


def queries(words: list[str], rng: random.Random, runs: int) -> dict[str, list[str]]:
    common = words[:20]
    rare = words[20:]
    return {
        "rare": [rng.choice(rare) for _ in range(runs)],
        "common": [rng.choice(common) for _ in range(runs)],
        "prefix": [rng.choice(rare)[: rng.choice((3, 4))] for _ in range(runs)],
        "two": [f"{rng.choice(common)} {rng.choice(rare)}" for _ in range(runs)],
        "none": ["zzqx" + rng.choice(rare) for _ in range(runs)],
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    sizes = dataset.Sizes(people=args.rows, interactions=0)
    target = SearchTarget(args.db, sizes, Path(args.base_dir))
    unreachable = target.reachable()
    if unreachable:
        return {"db": args.db, "skipped": unreachable}
    os.environ.update(target.env())
    if args.db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    import django

    reuse = args.reuse and target.exists()
    if not reuse:
        log(f"Creating the {args.db} database ({target.database_url})")
        target.create()
    migrated = run.kith(target, "migrate", "-v0")
    if migrated.returncode:
        raise SystemExit(f"kith migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    django.setup()
    from kith.accounts.models import User
    from kith.web import global_search

    if reuse:
        rng = random.Random(args.seed)
        loaded = {"reused": True, "words": vocabulary(rng)}
    else:
        loaded = load(args)
    rng = random.Random(args.seed + 1)
    mix = queries(loaded.pop("words"), rng, args.runs)
    result: dict[str, Any] = {"db": args.db, "rows": args.rows, "load": loaded, "figures": {}}
    for username in ("boss", "agent"):
        user = User.objects.get(username=username)
        global_search.search_everything(user, "warm up")
        for name, qs in mix.items():
            times = [
                run.timed(lambda q=q, u=user: global_search.search_everything(u, q))[0] for q in qs
            ]
            result["figures"][f"{username}/{name}"] = run.summary(times)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        target.drop()
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Global search, {result['db']}, {result['rows']:,} rows of each kind "
        f"(load {result['load']})",
        "| user/query mix | p50 ms | p95 ms | target p95 ≤ 50 ms |",
        "|---|---|---|---|",
    ]
    for name, fig in result["figures"].items():
        ok = "ok" if fig["p95_ms"] <= TARGET_MS else "**missed**"
        lines.append(f"| {name} | {fig['p50_ms']:.1f} | {fig['p95_ms']:.1f} | {ok} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--base-dir", default=os.environ.get("KITH_BENCH_DIR", "/tmp/kith-benchmarks")
    )
    args = parser.parse_args(argv)
    result = bench(args)
    if "skipped" in result:
        log(f"skipped: {result['skipped']}")
        return
    print(table(result))
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
