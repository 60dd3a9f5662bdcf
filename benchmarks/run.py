"""Kith benchmarks: one command loads a large database, serves it and prints figures.

    .venv/bin/python benchmarks/run.py [--db sqlite|postgres|both] [--quick]
        [--people 100000 --interactions 1000000] [--reuse] [--keep]

For each database it creates its own (a SQLite file under /tmp, or a PostgreSQL
database ``kith_bench_<people>_<interactions>``), migrates it with ``kith migrate``,
bulk-loads the data (see ``dataset.py``), rebuilds the search index, starts the real
server (``kith serve --no-worker``) and measures it with one keep-alive HTTP client:

a. ``GET /api/people/{id}/timeline?limit=50`` over random people;
b. the SQL Django sends for that timeline's interaction query, run with the driver
   itself for the same people, and the ratio API p95 / raw SQL p95;
c. ``GET /api/people?q=…&limit=20`` with names, family names and typo'd names;
d. ``POST /api/people`` one after the other;
e. ``kith import FILE`` of a CSV where a fifth of the rows are people we have already.

The figures are printed against the targets and written to benchmarks/results/.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (benchmarks/ is not a package)

VENV_BIN = Path(sys.executable).parent
KITH = str(VENV_BIN / "kith")
RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SECRET = "kith-benchmark-secret-not-for-production-0123456789"

TARGETS = {
    "timeline_p95_ms": ("≤", 50.0),
    "search_p95_ms": ("≤", 50.0),
    "api_raw_ratio": ("≤", 3.0),
    "creates_per_s": ("≥", 150.0),
    "import_rows_per_s": ("≥", 2000.0),
}


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- statistics


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank on the sorted values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "mean_ms": round(statistics.fmean(values), 2) if values else float("nan"),
        "max_ms": round(max(values), 2) if values else float("nan"),
    }


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


# ---------------------------------------------------------------- the database under test


@dataclass
class Target:
    """Where one benchmark database lives and the environment that points Kith at it."""

    db: str  # sqlite | postgres
    sizes: dataset.Sizes
    base_dir: Path
    pg_admin_url: str = PG_ADMIN_URL
    settings: str = "kith.settings"

    @property
    def tag(self) -> str:
        return f"{self.sizes.people}_{self.sizes.interactions}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"{self.db}-{self.tag}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "kith.sqlite3"

    @property
    def pg_name(self) -> str:
        return f"kith_bench_{self.tag}"

    @property
    def database_url(self) -> str:
        if self.db == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return re.sub(r"/[^/]*$", f"/{self.pg_name}", self.pg_admin_url)

    @property
    def marker(self) -> Path:
        return self.data_dir / "bench-loaded.json"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(
            KITH_DATA_DIR=str(self.data_dir),
            SECRET_KEY=SECRET,
            DEBUG="false",
            DJANGO_SETTINGS_MODULE=self.settings,
            KITH_LOG_LEVEL="WARNING",
        )
        if self.db == "postgres":
            env["DATABASE_URL"] = self.database_url
        return env

    def reachable(self) -> str | None:
        """None when the database server answers, else why not."""
        if self.db == "sqlite":
            return None
        try:
            import psycopg

            with psycopg.connect(self.pg_admin_url, connect_timeout=3):
                return None
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"

    def exists(self) -> bool:
        if self.db == "sqlite":
            return self.sqlite_path.exists()
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.pg_name]
            ).fetchone()
        return found is not None

    def loaded_sizes(self) -> dict[str, Any] | None:
        if not (self.marker.exists() and self.exists()):
            return None
        return json.loads(self.marker.read_text())

    def create(self) -> None:
        self.drop()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.db == "postgres":
            import psycopg

            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')

    def drop(self) -> None:
        if self.db == "postgres":
            import psycopg

            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def raw_connection(self) -> Any:
        """A driver connection configured like Django's (see kith.settings)."""
        if self.db == "sqlite":
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=20000")
            conn.execute("PRAGMA cache_size=-65536")
            return conn
        import psycopg

        return psycopg.connect(self.database_url, autocommit=True)


def kith(target: Target, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a ``kith`` command against the benchmark database."""
    return subprocess.run(
        [KITH, *args],
        env=target.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ---------------------------------------------------------------- loading


def prepare(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Create, migrate and load the database, or reuse a loaded one. Returns load stats."""
    loaded = target.loaded_sizes() if args.reuse else None
    if loaded is not None:
        log(f"Reusing {target.db} database with {loaded['parties']:,} parties ({target.data_dir})")
        migrated = kith(target, "migrate", "-v0")
        if migrated.returncode:
            raise SystemExit(f"kith migrate failed:\n{migrated.stderr}")
        return {**loaded, "reused": True}
    log(f"Creating the {target.db} database ({target.database_url})")
    target.create()
    t0 = time.perf_counter()
    migrated = kith(target, "migrate", "-v0")
    if migrated.returncode:
        raise SystemExit(f"kith migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    stats: dict[str, Any] = {"migrate_seconds": round(time.perf_counter() - t0, 1)}
    log(f"  migrated in {stats['migrate_seconds']} s; loading…")
    from django.db import connection

    raw = target.raw_connection()
    vendor = "sqlite" if target.db == "sqlite" else "postgresql"
    if vendor == "sqlite":
        # Durability does not matter while loading a throw-away database.
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-524288")
        raw.execute("BEGIN")
    else:
        raw.autocommit = False
    loader = dataset.Loader(vendor, raw, connection)
    stats.update(dataset.load(loader, target.sizes, log=log))
    if vendor == "postgresql":
        raw.commit()
    else:
        raw.execute("COMMIT")
    raw.close()

    from kith.people import search

    t0 = time.perf_counter()
    if hasattr(search, "reindex_all"):
        search.reindex_all()
    else:
        from kith.people.models import Party

        ids = list(Party.objects.values_list("id", flat=True))
        for start in range(0, len(ids), 1000):
            search.reindex(ids[start : start + 1000])
    connection.close()
    stats["reindex_seconds"] = round(time.perf_counter() - t0, 1)
    # Statistics after the search documents are written: the planner needs them for the
    # expression index on them (autovacuum would get there too, some time later).
    t0 = time.perf_counter()
    raw = target.raw_connection()
    raw.execute("ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE")
    raw.close()
    stats["analyze_seconds"] = round(time.perf_counter() - t0, 1)
    log(
        f"  loaded in {stats['load_seconds']} s, search index rebuilt in "
        f"{stats['reindex_seconds']} s, analysed in {stats['analyze_seconds']} s"
    )
    target.marker.write_text(dataset.dumps(stats))
    return stats


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(target: Target) -> Iterator[tuple[str, int]]:
    """Run ``kith serve --no-worker`` on a free port; yields its base URL and process id."""
    import httpx

    port = free_port()
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed in finally)
        "w+", prefix="kith-bench-server-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(
        [KITH, "serve", "--no-worker", "--port", str(port)],
        env=target.env(),
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log_file.seek(0)
                raise SystemExit(f"kith serve exited:\n{log_file.read()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/openapi.json", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("kith serve did not answer within 60 s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()
        os.unlink(log_file.name)


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid``, in milliseconds (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def admin_token() -> str:
    """An admin login for the benchmark and a fresh API token, through the services."""
    import secrets

    from kith.accounts import services
    from kith.accounts.models import Role, User

    user = User.objects.filter(username="bench-admin").first()
    if user is None:
        user = services.create_user(
            actor=None,
            username="bench-admin",
            password=secrets.token_urlsafe(16),
            role=Role.ADMIN,
        )
    _, token = services.issue_token(actor=user, user=user, name="benchmark")
    return token


# ---------------------------------------------------------------- measurements


@dataclass
class Bench:
    target: Target
    args: argparse.Namespace
    run_id: str
    rng: random.Random
    client: Any = None
    server_pid: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def server_cpu(self, name: str, requests: int) -> Iterator[None]:
        """Record the server's CPU milliseconds per request over the block.

        Unlike latency, CPU time hardly moves when other processes share the machine.
        """
        start = cpu_ms(self.server_pid)
        yield
        used = cpu_ms(self.server_pid) - start
        self.figures.setdefault("server_cpu_ms_per_request", {})[name] = round(used / requests, 2)

    def get(self, url: str, **params: Any) -> tuple[float, Any]:
        ms, response = timed(lambda: self.client.get(url, params=params))
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        return ms, response

    def sample_people(self, n: int) -> list[tuple[int, str, str, str, str]]:
        """``n`` random loaded people: (id, public id, given, family, e-mail)."""
        from kith.people.models import ContactPoint, Party

        max_id = self.target_max_id()
        people = Party.objects.filter(kind="person", id__lte=max_id)
        low, high = people.order_by("id").values_list("id", flat=True)[:1][0], max_id
        ids = set()
        while len(ids) < n:
            ids.add(self.rng.randint(low, high))
        rows = {
            r[0]: r
            for r in people.filter(id__in=ids).values_list(
                "id", "public_id", "given_name", "family_name"
            )
        }
        emails = dict(
            ContactPoint.objects.filter(party_id__in=ids, channel="email").values_list(
                "party_id", "normalized"
            )
        )
        return [
            (*rows[i][:1], str(rows[i][1]), *rows[i][2:], emails.get(i, ""))
            for i in ids
            if i in rows
        ]

    def target_max_id(self) -> int:
        return int(self.figures.get("_max_loaded_id", 0))

    # -- floor: the cheapest authenticated request, for scale

    def floor(self) -> None:
        with self.server_cpu("floor_me", self.args.samples):
            times = [self.get("/api/me")[0] for _ in range(self.args.samples)]
        self.figures["floor_me"] = summary(times)
        log(f"  GET /api/me (request floor): {_fmt(self.figures['floor_me'])}")

    # -- (a) timeline API, (b) raw SQL of its interaction query

    def timeline(self, people: list[tuple]) -> None:
        from django.db import connection

        from kith.accounts.models import User
        from kith.interactions import queries
        from kith.people.models import Party

        # The API request below reads as the benchmark's admin; the ORM call does too.
        reader = User.objects.get(username="bench-admin")

        # Capture exactly what Django sends for each person's timeline, and time the ORM.
        captured: list[tuple[str, Any]] = []

        def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            captured.append((sql, params))
            return execute(sql, params, many, context)

        plans: list[tuple[str, Any]] = []
        orm_times = []
        for pid, *_ in people:
            party = Party.objects.get(pk=pid)
            captured.clear()
            with connection.execute_wrapper(wrapper):
                ms, _ = timed(lambda party=party: queries.timeline(party, reader=reader, limit=50))
            orm_times.append(ms)
            found = [c for c in captured if 'FROM "interactions_interaction"' in c[0]]
            if not found:
                raise SystemExit("could not capture the timeline's interaction query")
            plans.append(found[0])
        connection.close()
        self.figures["timeline_sql"] = plans[0][0]
        raw = self.target.raw_connection()
        sqlite = self.target.db == "sqlite"

        def run_raw(sql: str, params: Any) -> int:
            if sqlite:
                return len(raw.execute(_qmark(sql), params).fetchall())
            import psycopg

            # Django's psycopg backend binds on the client side; do the same.
            with psycopg.ClientCursor(raw) as cur:
                cur.execute(sql, params)
                return len(cur.fetchall())

        for sql, params in plans:  # warm the caches for both sides alike
            run_raw(sql, params)
        api_times, rows = [], 0
        for _ in range(10):
            self.get(f"/api/people/{people[0][1]}/timeline", limit=50)
        with self.server_cpu("timeline", len(people)):
            for _, public_id, *_ in people:
                ms, response = self.get(f"/api/people/{public_id}/timeline", limit=50)
                api_times.append(ms)
                rows += len(response.json()["items"])
        raw_times = [timed(lambda s=sql, p=params: run_raw(s, p))[0] for sql, params in plans]
        raw.close()
        self.figures["timeline_api"] = summary(api_times)
        self.figures["timeline_api"]["avg_items"] = round(rows / len(people), 1)
        self.figures["timeline_orm"] = summary(orm_times)
        self.figures["timeline_raw_sql"] = summary(raw_times)
        ratio = self.figures["timeline_api"]["p95_ms"] / max(
            self.figures["timeline_raw_sql"]["p95_ms"], 1e-6
        )
        self.figures["api_raw_ratio"] = round(ratio, 1)
        log(f"  timeline API:      {_fmt(self.figures['timeline_api'])}")
        log(f"  timeline ORM call: {_fmt(self.figures['timeline_orm'])} (in-process)")
        log(f"  timeline raw SQL:  {_fmt(self.figures['timeline_raw_sql'])}; ratio {ratio:.1f}×")

    # -- (c) search

    def search(self, people: list[tuple]) -> None:
        queries: list[tuple[str, str, str]] = []
        for _, public_id, given, family, _email in people:
            kind = self.rng.choices(("name", "family", "typo"), weights=(40, 20, 40))[0]
            if kind == "name":
                q = f"{given} {family}"
            elif kind == "family":
                q = family
            else:
                q = f"{given} {typo(family, self.rng)}"
            queries.append((kind, q, public_id))
        times: list[float] = []
        hits: dict[str, list[int]] = {"name": [], "family": [], "typo": []}
        for _ in range(10):
            self.get("/api/people", q=queries[0][1], limit=20)
        with self.server_cpu("search", len(queries)):
            for kind, q, public_id in queries:
                ms, response = self.get("/api/people", q=q, limit=20)
                times.append(ms)
                ids = [item["id"] for item in response.json()["items"]]
                hits[kind].append(int(public_id in ids))
        self.figures["search"] = summary(times)
        self.figures["search_found_in_top20"] = {
            kind: round(sum(v) / len(v), 3) if v else None for kind, v in hits.items()
        }
        log(f"  search:            {_fmt(self.figures['search'])}")
        log(f"  search found the person in the top 20: {self.figures['search_found_in_top20']}")

    # -- (d) creates

    def creates(self) -> None:
        times: list[float] = []
        first = ("Ana", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hana")
        family = ("Lima", "Okafor", "Müller", "Rossi", "Nakamura", "Dubois", "Silva", "Kowalski")
        started = time.perf_counter()
        cpu_before = cpu_ms(self.server_pid)
        for i in range(self.args.creates):
            payload = {
                "given_name": self.rng.choice(first),
                "family_name": self.rng.choice(family),
                "contact_points": [
                    {"channel": "email", "value": f"bench-{self.run_id}-{i}@create.example"}
                ],
            }
            ms, response = timed(lambda p=payload: self.client.post("/api/people", json=p))
            if response.status_code != 201:
                raise SystemExit(
                    f"POST /api/people answered {response.status_code}: {response.text[:300]}"
                )
            times.append(ms)
        elapsed = time.perf_counter() - started
        used = cpu_ms(self.server_pid) - cpu_before
        self.figures.setdefault("server_cpu_ms_per_request", {})["create"] = round(
            used / len(times), 2
        )
        self.figures["create"] = summary(times)
        self.figures["creates_per_s"] = round(len(times) / elapsed, 1)
        log(
            f"  create:            {_fmt(self.figures['create'])}; {self.figures['creates_per_s']}/s"
        )

    # -- (e) CSV import

    def import_csv(self, people: list[tuple]) -> None:
        probe = kith(self.target, "import", "--help", timeout=120)
        if probe.returncode != 0:
            reason = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["?"]
            self.figures["import"] = {"skipped": f"`kith import` is not available: {reason[0]}"}
            log(f"  import: SKIPPED ({self.figures['import']['skipped']})")
            return
        n = self.args.import_rows
        # Known people get this run's tag, so they are updated on every run (--reuse too).
        dupes = [p for p in self.sample_people(max(1, n // 5)) if p[4]]
        path = Path(tempfile.gettempdir()) / f"kith-bench-import-{self.run_id}.csv"
        companies = [
            f"{name} {suffix}"
            for name in (
                "Acme",
                "Globex",
                "Initech",
                "Umbrella",
                "Hooli",
                "Vandelay",
                "Stark",
                "Wayne",
                "Tyrell",
                "Cyberdyne",
            )
            for suffix in ("GmbH", "Ltd", "Inc", "SA")
        ]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["First name", "Last name", "Email", "Company", "Job title", "Tags"])
            rows = [
                [given, family, email, "", "Customer", f"imported, batch {self.run_id}"]
                for _, _, given, family, email in dupes
            ]
            rows += [
                [
                    self.rng.choice(("Ana", "Ben", "Chloé", "Dev", "Emma", "Femi", "Gita")),
                    f"Import{i}",
                    f"import-{self.run_id}-{i}@import.example",
                    self.rng.choice(companies) if self.rng.random() < 0.6 else "",
                    self.rng.choice(("Buyer", "CTO", "Analyst", "")),
                    "imported",
                ]
                for i in range(n - len(rows))
            ]
            self.rng.shuffle(rows)
            writer.writerows(rows)
        t0 = time.perf_counter()
        done = kith(self.target, "import", str(path), "--no-progress", timeout=3600)
        elapsed = time.perf_counter() - t0
        path.unlink(missing_ok=True)
        out = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            self.figures["import"] = {"failed": out[-2000:]}
            log(f"  import: FAILED (exit {done.returncode})\n{out[-2000:]}")
            return
        self.figures["import"] = {
            "rows": n,
            "duplicates": len(dupes),
            "seconds": round(elapsed, 2),
            "output": out[-1000:],
        }
        self.figures["import_rows_per_s"] = round(n / elapsed, 1)
        log(
            f"  import: {n:,} rows ({len(dupes):,} known people) in {elapsed:.1f} s "
            f"= {self.figures['import_rows_per_s']:,} rows/s"
        )
        log("    " + "\n    ".join(out.splitlines()[-4:]))


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one edit (swap, deletion, substitution) after its first letter."""
    if len(word) < 4:
        return word + rng.choice("aeiou")
    i = rng.randint(1, len(word) - 2)
    edit = rng.choice(("swap", "delete", "replace"))
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == "delete":
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]


def _qmark(sql: str) -> str:
    """Django's %s placeholders as sqlite3's ? (as Django's SQLite backend does)."""
    return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")


def _fmt(s: dict[str, Any]) -> str:
    return f"p50 {s['p50_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms (n={s['n']})"


# ---------------------------------------------------------------- one database


def bench_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = dataset.Sizes(people=args.people, interactions=args.interactions)
    target = Target(db, sizes, Path(args.base_dir), settings=args.settings)
    result: dict[str, Any] = {
        "db": db,
        "people": sizes.people,
        "interactions": sizes.interactions,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    unreachable = target.reachable()
    if unreachable:
        log(f"PostgreSQL at {target.pg_admin_url} is not reachable ({unreachable}); skipping it.")
        return {**result, "skipped": unreachable}
    os.environ.update(target.env())
    if db == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    started = time.perf_counter()
    result["load"] = prepare(target, args)
    bench = Bench(target, args, run_id=f"{int(time.time())}", rng=random.Random(args.seed))
    from kith.people.models import Party

    bench.figures["_max_loaded_id"] = result["load"].get("max_party_id") or (
        Party.objects.order_by("-id").values_list("id", flat=True).first()
    )
    result["load"]["max_party_id"] = bench.figures["_max_loaded_id"]
    target.marker.write_text(dataset.dumps({**result["load"], "reused": False}))
    token = admin_token()
    people = bench.sample_people(args.samples)
    from django.db import connection

    connection.close()
    import httpx

    result["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    with serving(target) as (base, pid):
        bench.server_pid = pid
        log(f"Measuring {db} through {base} (load average {result['loadavg_before']}) …")
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            bench.client = client
            bench.floor()
            bench.timeline(people)
            bench.search(people)
            bench.creates()
        bench.import_csv(people)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    figures = {k: v for k, v in bench.figures.items() if not k.startswith("_")}
    result["figures"] = figures
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.keep or args.reuse:
        # Leave the database as loaded, for the next --reuse.
        max_id = bench.figures["_max_loaded_id"]
        t0 = time.perf_counter()
        for start in range(max_id, max_id + 10**6, 5000):
            batch = list(
                Party.objects.filter(id__gt=start, id__lte=start + 5000).values_list(
                    "id", flat=True
                )
            )
            if not batch and not Party.objects.filter(id__gt=start).exists():
                break
            Party.objects.filter(id__in=batch).delete()
        connection.close()
        # Vacuum away the rows this run wrote and deleted: left to autovacuum, the next
        # run's searches on PostgreSQL met their dead index entries (p50 7 ms -> 27 ms).
        raw = target.raw_connection()
        raw.execute("ANALYZE" if db == "sqlite" else "VACUUM ANALYZE")
        raw.close()
        log(
            f"Kept the {db} database ({target.database_url}); removed this run's "
            f"records and vacuumed in {time.perf_counter() - t0:.1f} s"
        )
    else:
        connection.close()
        target.drop()
        log(f"Dropped the {db} database.")
    return result


# ---------------------------------------------------------------- report


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    op, limit = TARGETS[key]
    ok = value <= limit if op == "≤" else value >= limit
    return "PASS" if ok else "MISS"


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for res in results:
        head = f"{res['db']}: {res['people']:,} people, {res['interactions']:,} interactions"
        lines += ["", head, "-" * len(head)]
        if "skipped" in res:
            lines.append(f"  skipped: {res['skipped']}")
            continue
        f = res["figures"]
        load = res["load"]
        rows = [
            (
                "data load",
                f"{load.get('load_seconds', '?')} s (+ search index {load.get('reindex_seconds', '?')} s)"
                + (" [reused]" if load.get("reused") else ""),
                "",
                "",
            ),
            ("GET /api/me (request floor)", _pp(f["floor_me"]), "", ""),
            (
                "timeline API p50 / p95",
                _pp(f["timeline_api"]),
                "p95 ≤ 50 ms",
                verdict("timeline_p95_ms", f["timeline_api"]["p95_ms"]),
            ),
            ("timeline ORM call p50 / p95", _pp(f["timeline_orm"]), "", ""),
            ("timeline raw SQL p50 / p95", _pp(f["timeline_raw_sql"]), "", ""),
            (
                "API p95 / raw SQL p95",
                f"{f['api_raw_ratio']}×",
                "≤ 3×",
                verdict("api_raw_ratio", f["api_raw_ratio"]),
            ),
            (
                "search p50 / p95",
                _pp(f["search"]),
                "p95 ≤ 50 ms",
                verdict("search_p95_ms", f["search"]["p95_ms"]),
            ),
            (
                "search: found in top 20",
                ", ".join(
                    f"{k} {v:.0%}" for k, v in f["search_found_in_top20"].items() if v is not None
                ),
                "",
                "",
            ),
            ("create p50 / p95", _pp(f["create"]), "", ""),
            (
                "creates per second",
                f"{f['creates_per_s']}/s",
                "≥ 150/s",
                verdict("creates_per_s", f["creates_per_s"]),
            ),
        ]
        cpu = f.get("server_cpu_ms_per_request", {})
        if cpu:
            rows.append(
                (
                    "server CPU per request",
                    ", ".join(f"{k} {v:.1f} ms" for k, v in cpu.items()),
                    "",
                    "",
                )
            )
        if "import_rows_per_s" in f:
            rows.append(
                (
                    "CSV import",
                    f"{f['import_rows_per_s']:,} rows/s ({f['import']['rows']:,} rows, "
                    f"{f['import']['seconds']} s)",
                    "≥ 2,000 rows/s",
                    verdict("import_rows_per_s", f["import_rows_per_s"]),
                )
            )
        else:
            why = f["import"].get("skipped") or "failed"
            rows.append(("CSV import", f"not measured: {why[:60]}", "≥ 2,000 rows/s", "—"))
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        for name, value, target, result in rows:
            lines.append(f"  {name:<{width}}  {value:<{vwidth}}  {target:<15} {result}")
    return "\n".join(lines)


def _pp(s: dict[str, Any]) -> str:
    return f"{s['p50_ms']:.2f} / {s['p95_ms']:.2f} ms"


def save(results: list[dict[str, Any]], args: argparse.Namespace) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{stamp}.json"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    payload = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "commit": commit,
        "arguments": vars(args),
        "targets": {k: f"{op} {limit}" for k, (op, limit) in TARGETS.items()},
        "results": results,
    }
    path.write_text(dataset.dumps(payload))
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument(
        "--quick", action="store_true", help="10,000 people and 100,000 interactions"
    )
    parser.add_argument("--samples", type=int, default=300, help="timelines and searches")
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a database loaded with the same sizes"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    parser.add_argument(
        "--base-dir",
        default=os.environ.get(
            "KITH_BENCH_DIR", str(Path(tempfile.gettempdir()) / "kith-benchmarks")
        ),
        help="where SQLite files and server data go (default /tmp/kith-benchmarks)",
    )
    parser.add_argument(
        "--settings",
        default="kith.settings",
        help="Django settings module for every process (to measure a proposed change; "
        "put its directory on PYTHONPATH)",
    )
    parser.add_argument("--json-out", help=argparse.SUPPRESS)  # used by --db both
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.interactions = 10_000, 100_000
    return args


def each_database(
    script: str, argv: list[str] | None, skipped: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run ``script`` once per database, each in its own process; their results in order.

    Django is configured once per process, so ``--db both`` re-runs the script with
    ``--db sqlite`` and ``--db postgres`` and a hidden ``--json-out`` for the result. A
    run that wrote nothing is reported as ``skipped`` with ``skipped``'s fields.
    """
    results = []
    for db in ("sqlite", "postgres"):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            out_path = out.name
        child = list(argv if argv is not None else sys.argv[1:])
        child = [*_replace_db(child, db), "--json-out", out_path]
        code = subprocess.run([sys.executable, script, *child], check=False).returncode
        data = Path(out_path).read_text() if Path(out_path).stat().st_size else ""
        os.unlink(out_path)
        results.append(
            json.loads(data) if data else {"db": db, **skipped, "skipped": f"exit code {code}"}
        )
    return results


def measure_get(client: Any, path: str, params: dict[str, Any], runs: int) -> dict[str, Any]:
    """``runs`` timed GETs after three warm-ups; fails loudly on a non-200."""
    for _ in range(3):
        response = client.get(path, params=params)
        if response.status_code != 200:
            raise SystemExit(f"{path} {params} → {response.status_code}: {response.text[:500]}")
    times = []
    for _ in range(runs):
        ms, response = timed(lambda: client.get(path, params=params))
        if response.status_code != 200:
            raise SystemExit(f"{path} → {response.status_code}: {response.text[:500]}")
        times.append(ms)
    return summary(times)


def token_for(username: str, name: str) -> str:
    """A fresh API token for an existing user, issued through the services."""
    from kith.accounts import services
    from kith.accounts.models import User

    user = User.objects.get(username=username)
    _, token = services.issue_token(actor=user, user=user, name=name)
    return token


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.db == "both":
        results = each_database(
            __file__, argv, {"people": args.people, "interactions": args.interactions}
        )
    else:
        results = [bench_database(args.db, args)]
        if args.json_out:
            Path(args.json_out).write_text(dataset.dumps(results[0]))
            return
    print(table(results))
    print(f"\nResults written to {save(results, args).relative_to(ROOT)}")


def _replace_db(argv: list[str], db: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--db":
            skip = True
            continue
        if arg.startswith("--db="):
            continue
        out.append(arg)
    return [*out, "--db", db]


if __name__ == "__main__":
    main()
