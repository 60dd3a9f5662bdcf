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
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
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
# This process turns PostgreSQL's pool off for itself (see bench_database); the server
# and the other commands get the pool setting the user gave, as the README runs them.
USER_DB_POOL = os.environ.get("KITH_DB_POOL")

TARGETS = {
    "timeline_p95_ms": ("≤", 50.0),
    "search_p95_ms": ("≤", 50.0),
    "api_raw_ratio": ("≤", 3.0),
    # Creates and imports count once their events are delivered by the worker.
    "creates_per_s": ("≥", 150.0),
    "create_cpu_ms": ("≤", 5.0),
    "import_api_rows_per_s": ("≥", 2000.0),
    "import_cli_rows_per_s": ("≥", 2000.0),
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
        env.pop("KITH_DB_POOL", None)
        if USER_DB_POOL is not None:
            env["KITH_DB_POOL"] = USER_DB_POOL
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
def serving(target: Target, *, worker: bool = False) -> Iterator[tuple[str, int]]:
    """Run ``kith serve`` on a free port; yields its base URL and process id.

    ``worker=True`` starts it as the README does, with the embedded worker that
    delivers events and runs background tasks (imports) in the same process, so the
    process's CPU time includes that work; ``worker=False`` adds ``--no-worker``.
    """
    import httpx

    port = free_port()
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed in finally)
        "w+", prefix="kith-bench-server-", suffix=".log", delete=False
    )
    command = [KITH, "serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
    proc = subprocess.Popen(
        command, env=target.env(), cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a machine shared with test runs, start-up alone took over a minute.
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                log_file.seek(0)
                raise SystemExit(f"kith serve exited:\n{log_file.read()}")
            with contextlib.suppress(httpx.HTTPError):
                # Any answer from the API will do (401 here): it is up.
                if httpx.get(f"{base}/api/me", timeout=10).status_code < 500:
                    break
            if time.monotonic() > deadline:
                log_file.seek(0)
                raise SystemExit(f"kith serve did not answer within 300 s:\n{log_file.read()}")
            time.sleep(0.2)
        yield base, proc.pid
    except BaseException:
        # A phase failed: what the server logged is the first thing to read.
        log_file.flush()
        log_file.seek(0)
        log(f"--- kith serve's log (end) ---\n{log_file.read()[-4000:]}")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()
        os.unlink(log_file.name)


def settle(pid: int, *, quiet_ms: float = 30.0, window: float = 1.0, limit: float = 600) -> float:
    """Wait until process ``pid`` uses under ``quiet_ms`` of CPU in a ``window``-second
    window; returns the seconds waited.

    A freshly started ``kith serve`` runs every periodic job once (the daily search
    reindex among them): that is start-up work, not the cost of the operations measured.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_ms(pid)
        time.sleep(window)
        if cpu_ms(pid) - before < quiet_ms:
            break
    return round(time.monotonic() - started, 1)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (Linux), None once it ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def own_cpu_ms(pid: int) -> float:
    """CPU time of process ``pid`` alone (its threads, not its child processes), in ms."""
    fields = _stat(pid)
    if fields is None:
        return float("nan")
    return sum(int(f) for f in fields[11:13]) * 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its descendants, in
    milliseconds (Linux).

    ``kith serve`` runs its bulk worker (imports, model fits) as a child process: its
    CPU is the server's. Children that ended and were reaped count through the parent's
    cutime and cstime; live ones are read one by one.
    """
    fields = _stat(pid)
    if fields is None:
        return float("nan")
    ticks = sum(int(f) for f in fields[11:15])
    for child in _children(pid):
        used = cpu_ms(child)
        if used == used:  # not NaN: it had not ended meanwhile
            ticks += used * os.sysconf("SC_CLK_TCK") / 1000
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields is not None and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def children_cpu_ms() -> float:
    """CPU time of this process's finished children (``kith import``), in milliseconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


class DatabaseCpu:
    """CPU time of the PostgreSQL backends serving the benchmark database during a block.

    Samples ``pg_stat_activity`` (through the admin database, so its own backend is not
    counted) and ``/proc`` every 0.2 s: a backend that ends between samples loses at
    most 0.2 s of its CPU. The benchmark's own Django connection is left out. On SQLite
    the database work is inside the server process and this measures nothing.
    """

    def __init__(self, target: Target, own_pid: int | None) -> None:
        self.target = target
        self.own_pid = own_pid
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def sample(self, conn: Any, *, initial: bool = False) -> None:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.target.pg_name]
            ).fetchall()
            if row[0] != self.own_pid
        ]
        for pid in pids:
            used = cpu_ms(pid)
            if used != used:  # NaN: it ended meanwhile
                continue
            # A backend first seen after the start began within the block: all its CPU counts.
            self.first.setdefault(pid, used if initial else 0.0)
            self.last[pid] = used

    def run(self, conn: Any) -> None:
        while not self.stop.wait(0.2):
            self.sample(conn)
        self.sample(conn)
        conn.close()

    def __enter__(self) -> DatabaseCpu:
        if self.target.db == "postgres":
            import psycopg

            conn = psycopg.connect(self.target.pg_admin_url, autocommit=True)
            self.sample(conn, initial=True)
            self.thread = threading.Thread(target=self.run, args=(conn,), daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    @property
    def used_ms(self) -> float | None:
        if self.target.db != "postgres":
            return None
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def pending_events() -> int:
    """Outbox events not yet delivered (failed ones are not waited for)."""
    from kith.core.models import OutboxEvent

    return OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).count()


def pending_identity_scores() -> int:
    """New people the worker has queued for identity scoring and not yet scored (it
    scores them together every ``KITH_IDENTITY_SCORE_SECONDS``)."""
    from kith.people.identity.models import PendingIdentityScore

    return PendingIdentityScore.objects.count()


def wait_drained(limit: float) -> tuple[bool, int, float | None]:
    """Wait until the outbox holds no pending event and no new person waits for
    identity scoring (its CPU belongs to the creates), polling every 50 ms; returns
    (drained, events and people still waiting, seconds until the outbox was first
    empty or None if it never was).

    The two are told apart because they are different promises: the events are
    delivered as fast as the worker can, while identity scoring runs as a periodic
    batch (``KITH_IDENTITY_SCORE_SECONDS``), so its finish includes up to one period
    of waiting for the timer, which is latency, not work.
    """
    started = time.monotonic()
    deadline = started + limit
    events_at: float | None = None

    def waiting() -> int:
        nonlocal events_at
        events = pending_events()
        if not events and events_at is None:
            events_at = time.monotonic() - started
        return events + pending_identity_scores()

    left = waiting()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = waiting()
    return left == 0, left, events_at


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


def field_definitions() -> None:
    """Define the custom attributes the data set and the creates fill (once per database)."""
    from kith.people import services
    from kith.people.models import FieldDefinition

    for key, label, kind, choices in dataset.FIELD_DEFINITIONS:
        if not FieldDefinition.objects.filter(key=key).exists():
            services.define_field(
                actor=None, key=key, label=label, type=kind, choices=choices or None
            )


def names() -> tuple[list[str], list[str]]:
    """The first and family names creates and imports draw from: the data set's pools
    (Faker, several locales, thousands of each), not a handful that would make every
    new person a namesake of a large part of the table."""
    first, family, _ = dataset.name_pools(seed=11)
    return first, family


def person_payload(rng: random.Random, tag: str, serial: int = 0) -> dict[str, Any]:
    """A realistic ``POST /api/people`` body: names, a title, a work e-mail, a phone, an
    address, often a second e-mail and a handle, tags, notes and custom attributes.

    ``tag`` makes the e-mails unique; ``serial`` (below 10,000,000) the phone number.
    """
    first, families = names()
    given, family = rng.choice(first), rng.choice(families)
    word = dataset.ascii_word(given)
    phone, _ = dataset.phone_number(90_000_000 + serial % 10_000_000)
    contacts = [
        {"channel": "email", "value": f"{word}.{tag}@create.example", "label": "work"},
        {"channel": "phone", "value": phone, "label": "mobile"},
        {"channel": "postal", "value": dataset.postal_address(rng), "label": "work"},
    ]
    if rng.random() < 0.3:
        contacts.append({"channel": "email", "value": f"{word}-{tag}@home.example"})
    if rng.random() < 0.3:
        contacts.append({"channel": "github", "value": f"{word[:20]}-gh{serial}"})
    return {
        "given_name": given,
        "family_name": family,
        "title": rng.choice(dataset.TITLES),
        "contact_points": contacts,
        "tags": rng.sample(["lead", "newsletter", "event-2026", "partner"], k=rng.randint(0, 2)),
        "notes": rng.choice(dataset.NOTES),
        "attributes": dataset.attributes(rng),
    }


# ---------------------------------------------------------------- measurements


@dataclass
class Bench:
    """The measurements against one running server (``mode``: "worker" or "no_worker")."""

    target: Target
    args: argparse.Namespace
    run_id: str
    rng: random.Random
    mode: str = "worker"
    client: Any = None
    server_pid: int = 0
    own_backend: int | None = None
    serial: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def worker(self) -> bool:
        return self.mode == "worker"

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[dict[str, Any]]:
        """CPU used over the block by the server process (its worker thread and its bulk
        worker process included),
        by PostgreSQL's backends for this database and by finished child processes
        (``kith import``). The block sets ``ops`` in the yielded dict; the figures per
        operation land in ``figures["cpu"][name]``.

        Unlike latency, CPU time hardly moves when other processes share the machine.
        """
        box: dict[str, Any] = {"ops": 1}
        server0, children0 = cpu_ms(self.server_pid), children_cpu_ms()
        own0 = own_cpu_ms(self.server_pid)
        with DatabaseCpu(self.target, self.own_backend) as db:
            yield box
        ops = max(1, box["ops"])
        server = cpu_ms(self.server_pid) - server0
        cpu = {"server_ms": round(server / ops, 2)}
        if db.used_ms is not None:
            cpu["db_ms"] = round(db.used_ms / ops, 2)
        children = children_cpu_ms() - children0
        if children > 0:
            cpu["import_process_ms"] = round(children / ops, 2)
        cpu["total_ms"] = round(sum(cpu.values()), 2)
        # Of the server's share, what its bulk worker process spent (imports, identity
        # scoring): not added to the total, which counts it in server_ms already.
        cpu["server_bulk_process_ms"] = round(
            (server - (own_cpu_ms(self.server_pid) - own0)) / ops, 2
        )
        self.figures.setdefault("cpu", {})[name] = cpu

    def get(self, url: str, **params: Any) -> tuple[float, Any]:
        ms, response = timed(lambda: self.client.get(url, params=params))
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        return ms, response

    def drain(self, name: str) -> dict[str, Any]:
        """Wait for the outbox to be empty (the worker's delivery); the seconds it took."""
        t0 = time.perf_counter()
        drained, left, events_after = wait_drained(self.args.drain_timeout)
        waited = round(time.perf_counter() - t0, 2)
        if not drained:
            log(f"    {name}: {left:,} events still pending after {waited} s")
        return {
            "drained": drained,
            "pending_left": left,
            "drain_seconds": waited,
            "events_drain_seconds": None if events_after is None else round(events_after, 2),
        }

    @staticmethod
    def rates_after(n: int, before_drain: float, drain: dict[str, Any], key: str) -> dict[str, Any]:
        """Rates with the events delivered (clock stopped when the outbox was first
        empty) and with the new people identity-scored too (when everything was done):
        ``delivered_<key>``, ``scored_<key>`` and their seconds."""
        out: dict[str, Any] = {}
        events_after = drain.get("events_drain_seconds")
        if events_after is not None:
            delivered = before_drain + events_after
            out["delivered_seconds"] = round(delivered, 2)
            out[f"delivered_{key}"] = round(n / max(delivered, 1e-9), 1)
        if drain.get("drained"):
            scored = before_drain + drain["drain_seconds"]
            out["scored_seconds"] = round(scored, 2)
            out[f"scored_{key}"] = round(n / max(scored, 1e-9), 1)
        return out

    def sample_people(self, n: int) -> list[tuple[int, str, str, str, str, str]]:
        """``n`` random loaded people: (id, public id, given, family, e-mail, phone)."""
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
        points = ContactPoint.objects.filter(
            party_id__in=ids, channel__in=("email", "phone"), primary=True
        ).values_list("party_id", "channel", "value")
        emails = {pid: value for pid, channel, value in points if channel == "email"}
        phones = {pid: value for pid, channel, value in points if channel == "phone"}
        return [
            (i, str(rows[i][1]), rows[i][2], rows[i][3], emails.get(i, ""), phones.get(i, ""))
            for i in sorted(ids)
            if i in rows
        ]

    def target_max_id(self) -> int:
        return int(self.figures.get("_max_loaded_id", 0))

    # -- floor: the cheapest authenticated request, for scale

    def floor(self) -> None:
        with self.measure("floor_me") as box:
            times = [self.get("/api/me")[0] for _ in range(self.args.samples)]
            box["ops"] = len(times)
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
        with self.measure("timeline") as box:
            for _, public_id, *_ in people:
                ms, response = self.get(f"/api/people/{public_id}/timeline", limit=50)
                api_times.append(ms)
                rows += len(response.json()["items"])
            box["ops"] = len(people)
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

    # -- the list with its total

    def list_pages(self) -> None:
        """``GET /api/people?limit=50`` page after page (keyset cursor), each answer with
        its total (``count``, estimated past ``KITH_EXACT_COUNT_LIMIT``)."""
        times: list[float] = []
        cursor = None
        body: dict[str, Any] = {}
        for _ in range(10):
            self.get("/api/people", limit=50)
        with self.measure("list") as box:
            for _ in range(self.args.samples):
                params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
                ms, response = self.get("/api/people", **params)
                times.append(ms)
                body = response.json()
                cursor = body["next_cursor"]
            box["ops"] = len(times)
        self.figures["list"] = {
            **summary(times),
            "count": body.get("count"),
            "count_is_estimate": body.get("count_is_estimate"),
        }
        log(
            f"  list, 50 a page:   {_fmt(self.figures['list'])}; count {body.get('count')}"
            + (" (estimate)" if body.get("count_is_estimate") else " (exact)")
        )

    # -- (c) search

    SEARCH_MIX = (
        ("name", 25),  # "Ana Lima"
        ("family", 10),  # "Lima"
        ("short", 15),  # two or three letters as people start typing: "An", "Lim"
        ("typo", 30),  # one edit in the family or the given name: "Ana Lmia"
        ("email", 10),  # the whole address
        ("phone", 10),  # the last eight digits, as read off a screen
    )

    def search_queries(self, people: list[tuple]) -> list[tuple[str, str, str]]:
        """(kind, query, public id looked for) per sampled person, drawn from SEARCH_MIX."""
        kinds, weights = zip(*self.SEARCH_MIX, strict=True)
        queries = []
        for _, public_id, given, family, email, phone in people:
            kind = self.rng.choices(kinds, weights=weights)[0]
            if kind == "phone" and not phone:
                kind = "name"
            if kind == "name":
                q = f"{given} {family}"
            elif kind == "family":
                q = family
            elif kind == "short":
                q = self.rng.choice((given, family))[: self.rng.choice((2, 3))]
            elif kind == "typo":
                if self.rng.random() < 2 / 3:
                    q = f"{given} {typo(family, self.rng)}"
                else:
                    q = f"{typo(given, self.rng)} {family}"
            elif kind == "email":
                q = email
            else:
                q = re.sub(r"\D", "", phone)[-8:]
            queries.append((kind, q, public_id))
        return queries

    def search(self, people: list[tuple]) -> None:
        queries = self.search_queries(people)
        times: list[float] = []
        by_kind: dict[str, list[float]] = {kind: [] for kind, _ in self.SEARCH_MIX}
        hits: dict[str, list[int]] = {kind: [] for kind, _ in self.SEARCH_MIX}
        for _ in range(10):
            self.get("/api/people", q=queries[0][1], limit=20)
        with self.measure("search") as box:
            for kind, q, public_id in queries:
                ms, response = self.get("/api/people", q=q, limit=20)
                times.append(ms)
                by_kind[kind].append(ms)
                ids = [item["id"] for item in response.json()["items"]]
                hits[kind].append(int(public_id in ids))
            box["ops"] = len(queries)
        self.figures["search"] = summary(times)
        self.figures["search_by_kind"] = {k: summary(v) for k, v in by_kind.items() if v}
        # Two letters match hundreds of people: whether one of them is in the top 20 says
        # nothing, so short queries are not scored.
        self.figures["search_found_in_top20"] = {
            kind: round(sum(v) / len(v), 3) if v and kind != "short" else None
            for kind, v in hits.items()
        }
        log(f"  search:            {_fmt(self.figures['search'])}")
        for kind, s in self.figures["search_by_kind"].items():
            log(f"    {kind:<7} {_fmt(s)}")
        log(f"  search found the person in the top 20: {self.figures['search_found_in_top20']}")

    # -- (d) creates

    def creates(self, clients: int = 1) -> None:
        """``POST /api/people`` with realistic records from ``clients`` threads, each
        with its own keep-alive connection, one request after the other.

        "acknowledged" stops the clock at the last 201; "delivered" when the worker has
        also delivered every event the creates queued (what the issue asks to count).
        """
        import httpx

        name = "create" if clients == 1 else f"create_{clients}_clients"
        n = self.args.creates
        payloads = []
        for i in range(n):
            self.serial += 1
            payloads.append(
                person_payload(self.rng, f"{self.run_id}-{self.mode}-{name}-{i}", self.serial)
            )
        times: list[float] = []
        errors: list[str] = []

        def post_all(batch: list[dict[str, Any]]) -> None:
            with httpx.Client(
                base_url=str(self.client.base_url), headers=self.client.headers, timeout=60
            ) as client:
                for payload in batch:
                    ms, response = timed(lambda p=payload: client.post("/api/people", json=p))
                    if response.status_code != 201:
                        errors.append(f"{response.status_code}: {response.text[:300]}")
                        return
                    times.append(ms)

        with self.measure(name) as box:
            started = time.perf_counter()
            threads = [
                threading.Thread(target=post_all, args=(payloads[k::clients],))
                for k in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            acknowledged = time.perf_counter() - started
            if errors:
                raise SystemExit(f"POST /api/people answered {errors[0]}")
            drain = self.drain(name) if self.worker else {}
            box["ops"] = len(times)
        figures = {
            **summary(times),
            "clients": clients,
            "acknowledged_per_s": round(len(times) / acknowledged, 1),
            **drain,
        }
        if self.worker:
            figures.update(self.rates_after(len(times), acknowledged, drain, "per_s"))
        self.figures[name] = figures
        log(
            f"  {name + ':':<18} {_fmt(figures)}; {figures['acknowledged_per_s']}/s acknowledged"
            + (
                f", {figures.get('delivered_per_s')}/s events delivered, "
                f"{figures.get('scored_per_s')}/s identity-scored"
                if self.worker
                else ""
            )
            + f"; server CPU {self.figures['cpu'][name]['server_ms']} ms per create"
            + f" (bulk process {self.figures['cpu'][name]['server_bulk_process_ms']})"
        )

    # -- (e) imports through the API and the CLI

    def import_content(self, people: list[tuple], phase: str) -> tuple[str, int]:
        """``import_file``'s CSV as text, for ``POST /api/imports``; the file is removed."""
        path, dupes = self.import_file(people, phase)
        content = path.read_text(encoding="utf-8")
        path.unlink(missing_ok=True)
        return content, dupes

    def import_file(self, people: list[tuple], phase: str) -> tuple[Path, int]:
        """A CSV of ``--import-rows`` realistic rows in which a fifth are known people
        (same e-mail, updated); returns its path and the number of known people."""
        n = self.args.import_rows
        # Known people get this run's tag, so they are updated on every run (--reuse too).
        dupes = [p for p in people[: max(1, n // 5)] if p[4]]
        path = Path(tempfile.gettempdir()) / f"kith-bench-import-{self.run_id}-{phase}.csv"
        companies = [
            f"{name} {suffix}"
            for name in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark")
            for suffix in ("GmbH", "Ltd", "Inc", "SA")
        ]
        segments = dataset.FIELD_DEFINITIONS[0][3]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "First name",
                    "Last name",
                    "Email",
                    "Phone",
                    "Address",
                    "Company",
                    "Job title",
                    "Tags",
                    "Notes",
                    "Segment",
                ]
            )
            rows = [
                [
                    given,
                    family,
                    email,
                    "",
                    "",
                    "",
                    "Customer",
                    f"imported, {phase} {self.run_id}",
                    "",
                    "",
                ]
                for _, _, given, family, email, _phone in dupes
            ]
            for i in range(n - len(rows)):
                self.serial += 1
                phone, _ = dataset.phone_number(90_000_000 + self.serial % 10_000_000)
                rows.append(
                    [
                        self.rng.choice(names()[0]),
                        f"Import{i}",
                        f"import-{self.run_id}-{phase}-{i}@import.example",
                        phone if self.rng.random() < 0.7 else "",
                        dataset.postal_address(self.rng) if self.rng.random() < 0.6 else "",
                        self.rng.choice(companies) if self.rng.random() < 0.6 else "",
                        self.rng.choice(dataset.TITLES),
                        "imported",
                        self.rng.choice(dataset.NOTES),
                        self.rng.choice(segments) if self.rng.random() < 0.5 else "",
                    ]
                )
            self.rng.shuffle(rows)
            writer.writerows(rows)
        return path, len(dupes)

    def import_api(self, people: list[tuple]) -> None:
        """``POST /api/imports`` (JSON content), then poll the job until it is done and the
        outbox until it is drained: the worker runs the import and delivers its events."""
        name = "import_api"
        if not self.worker:
            self.figures[name] = {"skipped": "runs in the worker"}
            return
        content, dupes = self.import_content(people, "api")
        n = self.args.import_rows
        with self.measure(name) as box:
            started = time.perf_counter()
            response = self.client.post(
                "/api/imports",
                json={
                    "kind": "people",
                    "format": "csv",
                    "file_name": "bench.csv",
                    "content": content,
                },
            )
            if response.status_code != 201:
                raise SystemExit(
                    f"POST /api/imports answered {response.status_code}: {response.text[:300]}"
                )
            job = response.json()
            deadline = time.monotonic() + self.args.drain_timeout
            while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.1)
                job = self.get(f"/api/imports/{job['id']}")[1].json()
            imported = time.perf_counter() - started
            drain = self.drain(name)
            box["ops"] = n
        self.figures[name] = figures = {
            "rows": n,
            "known_people": dupes,
            "status": job["status"],
            "created": job["created"],
            "updated": job["updated"],
            "rejected": job["rejected"],
            "imported_seconds": round(imported, 2),
            "imported_rows_per_s": round(n / imported, 1),
            **self.rates_after(n, imported, drain, "rows_per_s"),
            **drain,
        }
        log(
            f"  import (API):      {n:,} rows, job {job['status']} in {imported:.1f} s "
            f"({n / imported:,.0f} rows/s), events delivered after "
            f"{figures.get('delivered_seconds')} s ({figures.get('delivered_rows_per_s')} rows/s), "
            f"identity-scored after {figures.get('scored_seconds')} s "
            f"({figures.get('scored_rows_per_s')} rows/s); created {job['created']}, "
            f"updated {job['updated']}, rejected {job['rejected']}; CPU {self.figures['cpu'][name]}"
        )

    def timeline_during_import(self, people: list[tuple], import_people: list[tuple]) -> None:
        """Person timelines read one after another by one client while an API import runs
        (what the other users of the server feel during an import), beside the same
        reads on the idle server (``timeline_api``)."""
        name = "timeline_during_import"
        if not self.worker:
            self.figures[name] = {"skipped": "runs in the worker"}
            return
        content, _ = self.import_content(import_people, "api-busy")
        response = self.client.post(
            "/api/imports",
            json={"kind": "people", "format": "csv", "file_name": "busy.csv", "content": content},
        )
        if response.status_code != 201:
            raise SystemExit(f"POST /api/imports answered {response.status_code}")
        job, times, checked = response.json(), [], time.monotonic()
        deadline = checked + self.args.drain_timeout
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            public_id = people[len(times) % len(people)][1]
            times.append(self.get(f"/api/people/{public_id}/timeline", limit=50)[0])
            if time.monotonic() - checked > 0.5:
                job, checked = self.get(f"/api/imports/{job['id']}")[1].json(), time.monotonic()
        self.drain(name)
        self.figures[name] = {**summary(times), "import_status": job["status"]}
        log(f"  timeline during an API import: {_fmt(self.figures[name])}")

    def import_cli(self, people: list[tuple]) -> None:
        """``kith import FILE`` as a separate process against the served database; with the
        worker on, the clock stops when the server's worker has delivered the events."""
        name = "import_cli"
        probe = kith(self.target, "import", "--help", timeout=120)
        if probe.returncode != 0:
            reason = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["?"]
            self.figures[name] = {"skipped": f"`kith import` is not available: {reason[0]}"}
            log(f"  import (CLI): SKIPPED ({self.figures[name]['skipped']})")
            return
        path, dupes = self.import_file(people, f"cli-{self.mode}")
        n = self.args.import_rows
        with self.measure(name) as box:
            started = time.perf_counter()
            done = kith(self.target, "import", str(path), "--no-progress", timeout=3600)
            imported = time.perf_counter() - started
            drain = self.drain(name) if self.worker and done.returncode == 0 else {}
            box["ops"] = n
        path.unlink(missing_ok=True)
        out = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            self.figures[name] = {"failed": out[-2000:]}
            log(f"  import (CLI): FAILED (exit {done.returncode})\n{out[-2000:]}")
            return
        figures = {
            "rows": n,
            "known_people": dupes,
            "imported_seconds": round(imported, 2),
            "imported_rows_per_s": round(n / imported, 1),
            "output": out[-1000:],
            **drain,
        }
        if self.worker:
            figures.update(self.rates_after(n, imported, drain, "rows_per_s"))
        self.figures[name] = figures
        log(
            f"  import (CLI):      {n:,} rows in {imported:.1f} s ({n / imported:,.0f} rows/s)"
            + (
                f", events delivered after {figures.get('delivered_seconds')} s "
                f"({figures.get('delivered_rows_per_s')} rows/s), identity-scored after "
                f"{figures.get('scored_seconds')} s ({figures.get('scored_rows_per_s')} rows/s)"
                if self.worker
                else ""
            )
            + f"; CPU {self.figures['cpu'][name]}"
        )
        log("    " + "\n    ".join(out.splitlines()[-3:]))


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


def bench_pass(
    bench: Bench,
    target: Target,
    token: str,
    people: list[tuple],
    import_people: list[tuple],
    own_backend: int | None,
    db: str,
) -> None:
    """Every phase against one server: worker on (as the README runs it) or --no-worker."""
    import httpx

    with serving(target, worker=bench.worker) as (base, pid):
        bench.server_pid, bench.own_backend = pid, own_backend
        bench.figures["settle_seconds"] = settle(pid)
        log(
            f"Measuring {db} through {base}, "
            + ("embedded worker on (as the README starts it)" if bench.worker else "--no-worker")
            + f"; start-up work took {bench.figures['settle_seconds']} s; "
            f"load average {[round(x, 2) for x in os.getloadavg()]} …"
        )
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            bench.client = client
            phases = bench.args.phases
            bench.floor()
            if bench.worker and "reads" in phases:
                bench.timeline(people)
                bench.list_pages()
                bench.search(people)
            if "creates" in phases:
                bench.creates(1)
                bench.creates(bench.args.clients)
            if "imports" in phases:
                bench.import_api(import_people)
                bench.import_cli(import_people)
            if "busy" in phases:
                bench.timeline_during_import(people, import_people)


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
    # This process keeps one plain connection (no pool), so its backend is known and left
    # out of the database's CPU figures (it polls the outbox while the server works).
    os.environ["KITH_DB_POOL"] = "false"
    import django

    django.setup()
    started = time.perf_counter()
    result["load"] = prepare(target, args)
    run_id = f"{int(time.time())}"
    from kith.people.models import Party

    max_id = result["load"].get("max_party_id") or (
        Party.objects.order_by("-id").values_list("id", flat=True).first()
    )
    result["load"]["max_party_id"] = max_id
    target.marker.write_text(dataset.dumps({**result["load"], "reused": False}))
    field_definitions()
    token = admin_token()
    rng = random.Random(args.seed)
    benches = [Bench(target, args, run_id=run_id, rng=rng, mode="worker")]
    if not args.skip_no_worker:
        benches.append(Bench(target, args, run_id=run_id, rng=rng, mode="no_worker"))
    for bench in benches:
        bench.figures["_max_loaded_id"] = max_id
        # Phone numbers of this run's records start at a run-specific serial, so that a run
        # that crashed before removing its records does not collide with the next one.
        bench.serial = (int(run_id) % 97) * 100_000 + (0 if bench.worker else 50_000)
    people = benches[0].sample_people(args.samples)
    import_people = benches[0].sample_people(max(1, args.import_rows // 5))
    from django.db import connection

    own_backend = None
    if db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            own_backend = cursor.fetchone()[0]

    result["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    for bench in benches:
        # Colleagues' migrations may land while a long run goes on: apply them first, as an
        # operator would, or the server refuses to start.
        migrated = kith(target, "migrate", "-v0")
        if migrated.returncode:
            raise SystemExit(f"kith migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
        try:
            bench_pass(bench, target, token, people, import_people, own_backend, db)
        except (Exception, SystemExit) as exc:
            if bench.worker:
                raise
            # The second column is secondary: keep the first pass's figures.
            bench.figures["failed"] = f"{type(exc).__name__}: {str(exc)[-500:]}"
            log(f"  --no-worker pass failed: {bench.figures['failed']}")
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    for bench in benches:
        key = "figures" if bench.worker else "figures_no_worker"
        result[key] = {k: v for k, v in bench.figures.items() if not k.startswith("_")}
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.keep or args.reuse:
        # Leave the database as loaded, for the next --reuse.
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
        # Events the --no-worker pass left pending would be delivered by the next run's
        # server, inside its figures: deliver them now (their records are gone: cheap).
        from kith.core import events

        while pending_events():
            events.deliver_pending(limit=500)
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


def _cpu(figures: dict[str, Any], name: str) -> str:
    """``server 4.1 + db 1.2 ms`` of CPU per operation of phase ``name``."""
    cpu = figures.get("cpu", {}).get(name)
    if not cpu:
        return ""
    parts = [f"server {cpu['server_ms']:.1f}"]
    if cpu.get("server_bulk_process_ms"):
        parts[0] += f" (bulk process {cpu['server_bulk_process_ms']:.1f})"
    if "db_ms" in cpu:
        parts.append(f"db {cpu['db_ms']:.1f}")
    if "import_process_ms" in cpu:
        parts.append(f"kith import {cpu['import_process_ms']:.1f}")
    return " + ".join(parts) + " ms CPU/op"


def _rate(figures: dict[str, Any], name: str, key: str, unit: str) -> str:
    phase = figures.get(name) or {}
    if key not in phase:
        why = phase.get("skipped") or ("failed" if "failed" in phase else "")
        return f"— {why}".strip()
    return f"{phase[key]:,}{unit}"


def _read_rows(f: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The table's rows for the read phases (timeline, list, search)."""
    rows: list[tuple[str, str, str, str, str]] = [
        (
            "timeline API p50 / p95",
            _pp(f["timeline_api"]),
            "",
            "p95 ≤ 50 ms",
            verdict("timeline_p95_ms", f["timeline_api"]["p95_ms"]),
        ),
        ("", _cpu(f, "timeline"), "", "", ""),
        ("timeline ORM call p50 / p95", _pp(f["timeline_orm"]), "", "", ""),
        ("timeline raw SQL p50 / p95", _pp(f["timeline_raw_sql"]), "", "", ""),
        (
            "API p95 / raw SQL p95",
            f"{f['api_raw_ratio']}×",
            "",
            "≤ 3×",
            verdict("api_raw_ratio", f["api_raw_ratio"]),
        ),
        ("list p50 / p95 (50 a page, count)", _pp(f.get("list")), "", "", ""),
        ("", _cpu(f, "list"), "", "", ""),
        (
            "search p50 / p95 (mixed queries)",
            _pp(f["search"]),
            "",
            "p95 ≤ 50 ms",
            verdict("search_p95_ms", f["search"]["p95_ms"]),
        ),
        ("", _cpu(f, "search"), "", "", ""),
    ]
    for kind, s in f.get("search_by_kind", {}).items():
        rows.append((f"  search: {kind}", _pp(s), "", "", ""))
    rows.append(
        (
            "search: found in top 20",
            ", ".join(
                f"{k} {v:.0%}" for k, v in f["search_found_in_top20"].items() if v is not None
            ),
            "",
            "",
            "",
        )
    )
    return rows


def table(results: list[dict[str, Any]]) -> str:
    """The figures of each database: served as the README does (embedded worker on)
    first, ``--no-worker`` in the second column, CPU per operation under each rate."""
    lines = []
    for res in results:
        head = f"{res['db']}: {res['people']:,} people, {res['interactions']:,} interactions"
        lines += ["", head, "-" * len(head)]
        if "skipped" in res:
            lines.append(f"  skipped: {res['skipped']}")
            continue
        f = res["figures"]
        nw = res.get("figures_no_worker", {})
        load = res["load"]
        lines.append(
            f"  data load {load.get('load_seconds', '?')} s, search index "
            f"{load.get('reindex_seconds', '?')} s"
            + (" [reused]" if load.get("reused") else "")
            + f"; load average {res.get('loadavg_before')} before, {res.get('loadavg_after')} after"
        )
        rows: list[tuple[str, str, str, str, str]] = [
            ("figure", "kith serve (worker on)", "--no-worker", "target", ""),
            ("GET /api/me (floor) p50 / p95", _pp(f["floor_me"]), _pp(nw.get("floor_me")), "", ""),
            ("", _cpu(f, "floor_me"), _cpu(nw, "floor_me"), "", ""),
        ]
        if "timeline_api" in f:  # left out by --phases
            rows += _read_rows(f)
        for name, label in (("create", "1 client"), (f"create_{_clients(f)}_clients", "")):
            if name not in f:
                continue
            label = label or f"{f[name]['clients']} clients"
            delivered = f[name].get("delivered_per_s")
            rows += [
                (f"creates, {label}: p50 / p95", _pp(f[name]), _pp(nw.get(name)), "", ""),
                (
                    f"creates, {label}: acknowledged",
                    _rate(f, name, "acknowledged_per_s", "/s"),
                    _rate(nw, name, "acknowledged_per_s", "/s"),
                    "",
                    "",
                ),
                (
                    f"creates, {label}: delivered",
                    _rate(f, name, "delivered_per_s", "/s"),
                    "(events left pending)" if nw else "",
                    "≥ 150/s" if name == "create" else "",
                    verdict("creates_per_s", delivered) if name == "create" else "",
                ),
                (
                    f"creates, {label}: identity-scored",
                    _rate(f, name, "scored_per_s", "/s"),
                    "",
                    "",
                    "",
                ),
                ("", _cpu(f, name), _cpu(nw, name), "", ""),
            ]
        create_cpu = f.get("cpu", {}).get("create", {}).get("server_ms")
        rows.append(
            (
                "server CPU per create",
                f"{create_cpu} ms" if create_cpu is not None else "—",
                f"{nw['cpu']['create']['server_ms']} ms" if nw.get("cpu", {}).get("create") else "",
                "≤ 5 ms",
                verdict("create_cpu_ms", create_cpu),
            )
        )
        for name, label in (("import_api", "import, API"), ("import_cli", "import, CLI")):
            phase = f.get(name, {})
            rows += [
                (
                    f"{label}: imported",
                    _rate(f, name, "imported_rows_per_s", " rows/s"),
                    _rate(nw, name, "imported_rows_per_s", " rows/s") if nw else "",
                    "",
                    "",
                ),
                (
                    f"{label}: delivered",
                    _rate(f, name, "delivered_rows_per_s", " rows/s"),
                    "(events left pending)" if nw.get(name, {}).get("rows") else "",
                    "≥ 2,000 rows/s",
                    verdict(f"{name}_rows_per_s", phase.get("delivered_rows_per_s")),
                ),
                (
                    f"{label}: identity-scored",
                    _rate(f, name, "scored_rows_per_s", " rows/s"),
                    "",
                    "",
                    "",
                ),
                ("", _cpu(f, name), _cpu(nw, name), "", ""),
            ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            lines.append(
                "  "
                + "  ".join(f"{v:<{w}}" for v, w in zip(row[:4], widths, strict=True))
                + " "
                + row[4]
            )
    return "\n".join(lines)


def _clients(figures: dict[str, Any]) -> int:
    for name in figures:
        match = re.fullmatch(r"create_(\d+)_clients", name)
        if match:
            return int(match.group(1))
    return 0


def _pp(s: dict[str, Any] | None) -> str:
    if not s or "p50_ms" not in s:
        return ""
    return f"{s['p50_ms']:.2f} / {s['p95_ms']:.2f} ms"


def markdown(results: list[dict[str, Any]]) -> str:
    """The main figures of a run as a Markdown table (for benchmarks/README.md)."""
    runs = [r for r in results if "figures" in r]
    if not runs:
        return "(no figures)"

    def cpu(figures: dict[str, Any], name: str) -> str:
        c = figures.get("cpu", {}).get(name)
        if not c:
            return ""
        parts = [f"{c['server_ms']:.1f}"]
        if c.get("server_bulk_process_ms"):
            parts[0] += f" (bulk process {c['server_bulk_process_ms']:.1f})"
        if "db_ms" in c:
            parts.append(f"db {c['db_ms']:.1f}")
        if "import_process_ms" in c:
            parts.append(f"import {c['import_process_ms']:.1f}")
        return " + ".join(parts) + " ms"

    def rate(figures: dict[str, Any], name: str, key: str) -> str:
        value = (figures.get(name) or {}).get(key)
        return "—" if value is None else f"{value:,.0f}"

    head = "| figure | " + " | ".join(f"{r['db']} worker on | {r['db']} --no-worker" for r in runs)
    lines = [head + " | target |", "|---" * (1 + 2 * len(runs)) + "|---|"]

    def row(label: str, cells: list[tuple[str, str]], target: str = "") -> None:
        lines.append(
            f"| {label} | " + " | ".join(f"{a} | {b}" for a, b in cells) + f" | {target} |"
        )

    f = [(r["figures"], r.get("figures_no_worker", {})) for r in runs]
    row("`GET /api/me` p50 / p95", [(_pp(a["floor_me"]), _pp(b.get("floor_me"))) for a, b in f])
    row("  CPU per request", [(cpu(a, "floor_me"), cpu(b, "floor_me")) for a, b in f])
    row("timeline p50 / p95", [(_pp(a.get("timeline_api")), "") for a, _ in f], "p95 ≤ 50 ms")
    row("  CPU per request", [(cpu(a, "timeline"), "") for a, _ in f])
    if "list" in f[0][0]:
        row("list, 50 a page, with count", [(_pp(a.get("list")), "") for a, _ in f])
        row("  CPU per page", [(cpu(a, "list"), "") for a, _ in f])
    row("search p50 / p95, mixed", [(_pp(a.get("search")), "") for a, _ in f], "p95 ≤ 50 ms")
    for kind, _w in Bench.SEARCH_MIX:
        row(f"  {kind}", [(_pp(a.get("search_by_kind", {}).get(kind)), "") for a, _ in f])
    row("  CPU per search", [(cpu(a, "search"), "") for a, _ in f])
    for name, label in (("create", "1 client"), (f"create_{_clients(f[0][0])}_clients", "")):
        label = label or f"{f[0][0].get(name, {}).get('clients', '?')} clients"
        row(
            f"creates/s, {label}, acknowledged",
            [
                (rate(a, name, "acknowledged_per_s"), rate(b, name, "acknowledged_per_s"))
                for a, b in f
            ],
        )
        row(
            f"creates/s, {label}, events delivered",
            [(rate(a, name, "delivered_per_s"), "(left pending)") for a, _ in f],
            "≥ 150/s" if name == "create" else "",
        )
        row(
            f"creates/s, {label}, identity-scored",
            [(rate(a, name, "scored_per_s"), "") for a, _ in f],
        )
        row(
            "  CPU per create",
            [(cpu(a, name), cpu(b, name)) for a, b in f],
            "≤ 5 ms" if name == "create" else "",
        )
    for name, label in (("import_api", "API"), ("import_cli", "CLI")):
        row(
            f"import rows/s, {label}, imported",
            [
                (rate(a, name, "imported_rows_per_s"), rate(b, name, "imported_rows_per_s"))
                for a, b in f
            ],
        )
        row(
            f"import rows/s, {label}, events delivered",
            [(rate(a, name, "delivered_rows_per_s"), "") for a, _ in f],
            "≥ 2,000/s",
        )
        row(
            f"import rows/s, {label}, identity-scored",
            [(rate(a, name, "scored_rows_per_s"), "") for a, _ in f],
        )
        row("  CPU per row", [(cpu(a, name), cpu(b, name)) for a, b in f])
    return "\n".join(lines)


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
    parser.add_argument("--creates", type=int, default=1000, help="creates per phase")
    parser.add_argument(
        "--clients", type=int, default=4, help="clients of the concurrent create phase"
    )
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=900,
        help="seconds to wait for an import job or the outbox before giving up on a phase",
    )
    parser.add_argument(
        "--skip-no-worker",
        action="store_true",
        help="leave out the second pass against `kith serve --no-worker`",
    )
    parser.add_argument(
        "--phases",
        type=lambda value: sorted(set(value.split(","))),
        default=["busy", "creates", "imports", "reads"],
        help="a comma-separated subset of reads,creates,imports,busy (default: all four; "
        "busy: timelines read while an API import runs), to repeat one part, as in an A/B "
        "comparison",
    )
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
    parser.add_argument(
        "--markdown", metavar="RESULTS_JSON", help="print a saved run's figures as Markdown"
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


def save_results(name: str, results: list[dict[str, Any]]) -> Path:
    """Write one benchmark run's results under ``benchmarks/results/`` and say where."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(dataset.dumps(results))
    print(f"\nResults written to {path.relative_to(ROOT)}")
    return path


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
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())["results"]))
        return
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
