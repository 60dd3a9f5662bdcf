"""Listening benchmark: end-to-end ingest in mentions/s and the engagement queue's p95.

    .venv/bin/python benchmarks/listening.py [--db sqlite|postgres|both] [--quick]
        [--mentions 100000] [--queue-rows 1000000] [--runs 100] [--keep]

For each database it creates its own (a SQLite file under ``/tmp/kith-benchmarks/``, or
the PostgreSQL database ``kith_bench_listening``), migrates it with ``kith migrate``,
creates people with Mastodon handles (a third of the authors are known people) and
tracked keywords, then measures:

1. **one worker**: ``services.ingest`` over the mentions in batches of 500, in this
   process — normalise, duplicates, language (py3langid), sentiment (the sentiment
   module's model), keywords/topics, author matching, storage with the timeline mirror
   and outbox events;
2. **two workers (Redis Streams)**: the same number of new mentions published to the
   stream (Redis database 14 of ``127.0.0.1:6379``, emptied first), then two
   ``kith manage listening_consume --until-empty`` processes drain it together; the
   time runs from their start to the end of the last. Skipped when Redis is absent;
3. **queue p95**: the table is filled to ``--queue-rows`` mentions with the driver
   (``dataset.Loader``: SQLite ``executemany``, PostgreSQL ``COPY``; a fifth open), then
   the queue's first page (50, by priority) is read ``--runs`` times as the API does it —
   ``queries.queue`` + keyset page + serialisation — as an admin, and as an agent
   filtering on their own mentions, and the second page by cursor.

Targets: ≥ 500 mentions/s with one worker; queue p95 ≤ 50 ms at 1,000,000 mentions.
``--quick``: 5,000 mentions and 100,000 queue rows. Figures go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import run  # noqa: E402

BATCH = 500
NO_SENTIMENT = False
PEOPLE = 20_000
REDIS_URL = os.environ.get("KITH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TARGET_RATE = 500.0
TARGET_P95_MS = 50.0
log = run.log

OPENERS = [
    "the app is broken again",
    "checkout keeps failing with an error",
    "still waiting for my refund, terrible support",
    "love the new dashboard",
    "great service today, thank you",
    "my parcel arrived late and damaged",
    "is the api down for anyone else",
    "please add dark mode",
    "new release notes are out",
    "le service client ne répond pas",
    "der Versand hat viel zu lange gedauert",
    "el producto llegó roto",
]
TAILS = ["", " #acme", " @acme", " really", " since monday", " 😡", " 🙌", " https://ex.org/x"]


class MentionLoader(dataset.Loader):
    """The shared loader, leaving out columns the database generates (Mention.is_open)."""

    def columns(self, model: Any, generated: Any) -> tuple[list[str], tuple]:
        fields = {
            f.column: f
            for f in model._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        }
        rest = [c for c in fields if c not in generated]
        defaults = tuple(fields[c].get_db_prep_save(fields[c].get_default(), self.dj) for c in rest)
        return [*generated, *rest], defaults


class ListeningTarget(run.Target):
    @property
    def tag(self) -> str:
        return "listening"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / f"listening-{self.db}"

    @property
    def pg_name(self) -> str:
        return "kith_bench_listening"


def _people(rng: random.Random) -> list[str]:
    """PEOPLE persons with a Mastodon handle each; returns the handles."""
    from kith.people.models import ContactPoint, Party

    parties = [
        Party(kind="person", given_name=f"P{i}", family_name="Bench", display_name=f"P{i} Bench")
        for i in range(PEOPLE)
    ]
    Party.objects.bulk_create(parties, batch_size=2000)
    handles = [f"user{i}@bench.social" for i in range(PEOPLE)]
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(party=p, channel="mastodon", value=f"@{h}", normalized=h)
            for p, h in zip(parties, handles, strict=True)
        ],
        batch_size=2000,
    )
    return handles


def _mentions(rng: random.Random, n: int, handles: list[str], prefix: str) -> list[Any]:
    from kith.listening.incoming import IncomingMention

    now = dt.datetime.now(dt.UTC)
    out = []
    for i in range(n):
        known = rng.random() < 0.33
        handle = rng.choice(handles) if known else f"stranger{rng.randrange(10**6)}@else.where"
        text = f"{rng.choice(OPENERS)}{rng.choice(TAILS)} ({prefix}{i % 997})"
        out.append(
            IncomingMention(
                external_id=f"{prefix}{i}",
                text=text,
                channel="mastodon",
                url=f"https://bench.social/@x/{prefix}{i}",
                published_at=now - dt.timedelta(seconds=rng.randrange(7 * 86400)),
                author_handle=f"@{handle}",
                author_name="Someone",
                author_followers=int(rng.paretovariate(1.2) * 10),
            )
        )
    return out


def _ingest_one_worker(source, items) -> dict[str, Any]:
    from kith.listening import services

    start = time.perf_counter()
    created = matched = 0
    for i in range(0, len(items), BATCH):
        result = services.ingest(source, items[i : i + BATCH])
        created += result.created
        matched += result.matched
    seconds = time.perf_counter() - start
    return {
        "mentions": len(items),
        "created": created,
        "matched": matched,
        "seconds": round(seconds, 2),
        "mentions_per_s": round(len(items) / seconds, 1),
    }


def _ingest_two_workers(target, source, items) -> dict[str, Any] | None:
    import redis

    from kith.listening import streams
    from kith.listening.models import Mention

    try:
        conn = redis.Redis.from_url(REDIS_URL)
        conn.ping()
    except redis.ConnectionError as exc:
        log(f"  two workers: skipped, Redis not reachable ({exc})")
        return None
    conn.delete(streams.STREAM)
    for i in range(0, len(items), BATCH):
        streams.publish(source.pk, items[i : i + BATCH], conn=conn)
    before = Mention.objects.filter(source=source).count()
    env = {**target.env(), "REDIS_URL": REDIS_URL}
    extra = ["--no-sentiment"] if NO_SENTIMENT else []
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--db", target.db, "--consume", f"w{n}", *extra],
            env=env,
            cwd=run.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (1, 2)
    ]
    outputs = [p.communicate(timeout=3600)[0].strip() for p in procs]
    seconds = time.perf_counter() - start
    created = Mention.objects.filter(source=source).count() - before
    pending = conn.xpending(streams.STREAM, streams.GROUP)["pending"]
    conn.delete(streams.STREAM)
    return {
        "mentions": len(items),
        "created": created,
        "pending_after": pending,
        "seconds": round(seconds, 2),
        "mentions_per_s": round(len(items) / seconds, 1),
        "consumers": [o.splitlines()[-1] if o else "" for o in outputs],
    }


def _fill_queue_rows(target, source, total: int, rng: random.Random) -> int:
    """Top the table up to ``total`` mentions with the driver; a fifth open."""
    from django.db import connection

    from kith.accounts.models import User
    from kith.listening import pipeline
    from kith.listening.models import Mention

    have = Mention.objects.count()
    todo = max(0, total - have)
    if not todo:
        return 0
    agents = list(
        User.objects.filter(username__startswith="bench-agent").values_list("pk", flat=True)
    )
    raw = target.raw_connection()
    loader = MentionLoader(connection.vendor, raw, connection)
    now = dt.datetime.now(dt.UTC)
    labels = ("negative", "neutral", "positive")

    def rows():
        for i in range(todo):
            when = now - dt.timedelta(seconds=rng.randrange(90 * 86400))
            label = rng.choice(labels)
            conf = rng.random()
            neg = pipeline.negativity(label, conf)
            infl = pipeline.influence(int(rng.paretovariate(1.2) * 10))
            rank = pipeline.priority_rank(neg, infl, when)
            status = rng.choices(["new", "assigned", "replied", "dismissed"], [10, 10, 60, 20])[0]
            yield (
                loader.uid(uuid.uuid4()),
                loader.when(now),
                loader.when(now),
                source.pk,
                f"q{i}",
                "mastodon",
                f"bulk row {i} {label}",
                loader.when(when),
                loader.when(now),
                label,
                conf,
                {"negative": -conf, "positive": conf}.get(label, 0.0),
                status,
                rng.choice(agents) if status == "assigned" else None,
                pipeline.priority_at(rank, now),
                rank,
            )

    generated = [
        "public_id",
        "created_at",
        "updated_at",
        "source_id",
        "external_id",
        "channel",
        "text",
        "published_at",
        "received_at",
        "sentiment_label",
        "sentiment_confidence",
        "sentiment_score",
        "status",
        "assignee_id",
        "priority",
        "rank",
    ]
    if connection.vendor == "sqlite":
        raw.execute("BEGIN")
    count = loader.insert(Mention, generated, rows(), total=todo)
    if connection.vendor == "sqlite":
        raw.execute("COMMIT")
        raw.execute("ANALYZE")
    else:
        raw.execute("ANALYZE listening_mention")
    raw.close()
    return count


def _measure_queue(runs: int) -> dict[str, Any]:
    from kith.accounts.models import User
    from kith.core.pagination import paginate
    from kith.listening import queries
    from kith.listening.api import mention_out

    admin = User.objects.get(username="bench-admin")
    agent = User.objects.filter(username__startswith="bench-agent").first()

    def page(user, filters, cursor=None):
        qs = queries.queue(user, filters).select_related("duplicate_of")
        got = paginate(qs, order=queries.QUEUE_ORDER, cursor=cursor, limit=50)
        return [mention_out(m) for m in got.items], got.next_cursor

    def timed(call):
        for _ in range(3):
            call()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        return run.summary(times)

    first, cursor = page(admin, queries.MentionFilters())
    assert len(first) == 50, len(first)
    return {
        "queue_first_page_admin": timed(lambda: page(admin, queries.MentionFilters())),
        "queue_mine_agent": timed(lambda: page(agent, queries.MentionFilters(assignee="me"))),
        # An agent's whole queue: every row passes the mirror check of kith.listening.access
        # (mentions of internal sources follow the case / community post they mirror).
        "queue_first_page_agent": timed(lambda: page(agent, queries.MentionFilters())),
        "queue_second_page": timed(lambda: page(admin, queries.MentionFilters(), cursor)),
    }


def bench_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    target = ListeningTarget(db=db, sizes=dataset.Sizes(0, 0), base_dir=Path(args.base_dir))
    problem = target.reachable()
    if problem:
        log(f"{db}: skipped ({problem})")
        return {"db": db, "skipped": problem}
    kept = args.reuse and target.loaded_sizes() is not None
    if kept:
        log(f"{db}: reusing the kept {target.database_url}")
    else:
        log(f"{db}: creating and migrating {target.database_url}")
        target.create()
    done = run.kith(target, "migrate", "--noinput")
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    os.environ.update(target.env())
    import django

    django.setup()
    if args.queue_only:
        return _bench_queue_only(target, args, kept)
    from django.conf import settings

    from kith.accounts import services as accounts
    from kith.accounts.models import Role
    from kith.listening.models import Keyword, Source

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _maybe_stub_sentiment()
    rng = random.Random(2026)
    accounts.create_user(actor=None, username="bench-admin", password="x" * 20, role=Role.ADMIN)
    for i in range(5):
        accounts.create_user(
            actor=None, username=f"bench-agent{i}", password="x" * 20, role=Role.AGENT
        )
    handles = _people(rng)
    for term, competitor in (("acme", False), ("api", False), ("globex", True)):
        Keyword.objects.create(term=term, normalized=term, is_competitor=competitor)
    result: dict[str, Any] = {
        "db": db,
        "mentions": args.mentions,
        "sentiment": "skipped (neutral)" if NO_SENTIMENT else "model",
        "uptime": _uptime(),
    }
    # Statistics for the tables just loaded, as autovacuum would keep them in service.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    src1 = Source.objects.create(kind="webhook", name="bench one worker")
    items = _mentions(rng, args.mentions, handles, "a")
    log(f"{db}: one worker, {len(items):,} mentions …")
    result["one_worker"] = _ingest_one_worker(src1, items)
    log(f"  {result['one_worker']}")
    src2 = Source.objects.create(kind="webhook", name="bench two workers")
    items = _mentions(rng, args.mentions, handles, "b")
    log(f"{db}: two workers (Redis Streams), {len(items):,} mentions …")
    result["two_workers"] = _ingest_two_workers(target, src2, items)
    log(f"  {result['two_workers']}")
    log(f"{db}: filling the table to {args.queue_rows:,} mentions …")
    start = time.perf_counter()
    added = _fill_queue_rows(target, src1, args.queue_rows, rng)
    log(f"  {added:,} rows in {time.perf_counter() - start:.0f} s")
    from kith.listening.models import Mention

    result["queue_rows"] = Mention.objects.count()
    result["queue"] = _measure_queue(args.runs)
    log(f"  {result['queue']}")
    result["uptime_after"] = _uptime()
    if args.keep:
        target.marker.write_text(dataset.dumps({"queue_rows": result["queue_rows"]}))
    else:
        from django.db import connections

        connections.close_all()
        target.drop()
    return result


def _bench_queue_only(target, args: argparse.Namespace, kept: bool) -> dict[str, Any]:
    """Only the queue phase: staff users and one source, the table filled with the driver
    to ``--queue-rows`` (no ingest), then the queue measured. With ``--keep`` the database
    stays for ``--reuse``, which measures it again without loading."""
    from django.conf import settings

    from kith.accounts import services as accounts
    from kith.accounts.models import Role
    from kith.listening.models import Mention, Source

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    result: dict[str, Any] = {"db": target.db, "queue_only": True, "uptime": _uptime()}
    if not kept:
        accounts.create_user(actor=None, username="bench-admin", password="x" * 20, role=Role.ADMIN)
        for i in range(5):
            accounts.create_user(
                actor=None, username=f"bench-agent{i}", password="x" * 20, role=Role.AGENT
            )
        source = Source.objects.create(kind="webhook", name="bench queue")
        log(f"{target.db}: filling the table to {args.queue_rows:,} mentions …")
        start = time.perf_counter()
        added = _fill_queue_rows(target, source, args.queue_rows, random.Random(2026))
        log(f"  {added:,} rows in {time.perf_counter() - start:.0f} s")
    result["queue_rows"] = Mention.objects.count()
    result["queue"] = _measure_queue(args.runs)
    log(f"  {result['queue']}")
    result["uptime_after"] = _uptime()
    if args.keep or args.reuse:
        target.marker.write_text(dataset.dumps({"queue_rows": result["queue_rows"]}))
    else:
        from django.db import connections

        connections.close_all()
        target.drop()
    return result


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _consume(name: str) -> None:
    """A stream consumer process (environment from the parent): drain, then exit."""
    import django

    django.setup()
    _maybe_stub_sentiment()
    from kith.listening import streams

    conn = streams.client()
    handled = 0
    while True:
        got = streams.consume(consumer=name, conn=conn, count=2)
        if not got:
            break
        handled += got
    print(f"{name}: {handled} entries")


def _maybe_stub_sentiment() -> None:
    from kith.listening import pipeline

    if NO_SENTIMENT:
        pipeline._sentiment_module = lambda: None
        return
    from kith.listening import sentiment

    if not Path(sentiment.model_path()).exists():
        raise SystemExit(
            f"The sentiment model is not installed ({sentiment.model_path()}); install it, "
            "or pass --no-sentiment to try the script without it (figures then exclude it)."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--queue-rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by --keep again"
    )
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="only the queue phase: fill the table with the driver, no ingest",
    )
    parser.add_argument("--base-dir", default="/tmp/kith-benchmarks")
    parser.add_argument(
        "--no-sentiment",
        action="store_true",
        help="Score every text neutral (only to try the script while no model is installed).",
    )
    parser.add_argument("--consume", default="", help=argparse.SUPPRESS)  # a worker process
    args = parser.parse_args()
    global NO_SENTIMENT
    NO_SENTIMENT = args.no_sentiment
    if args.consume:
        _consume(args.consume)
        return
    if args.quick:
        args.mentions, args.queue_rows = 5_000, 100_000
    if args.db == "both":
        # One process per database: Django is set up once per process.
        rest, skip = [], False
        for a in sys.argv[1:]:
            if skip or a == "--db":
                skip = not skip
                continue
            rest.append(a)
        for db in ("sqlite", "postgres"):
            subprocess.run([sys.executable, __file__, "--db", db, *rest], check=False)
        return
    result = bench_one(args.db, args)
    ok_rate = result.get("one_worker", {}).get("mentions_per_s", 0) >= TARGET_RATE
    p95 = result.get("queue", {}).get("queue_first_page_admin", {}).get("p95_ms")
    log(
        f"\n{args.db}: one worker {result.get('one_worker', {}).get('mentions_per_s')} mentions/s "
        f"(target ≥ {TARGET_RATE:.0f}: {'met' if ok_rate else 'MISSED'}); two workers "
        f"{(result.get('two_workers') or {}).get('mentions_per_s')} mentions/s; queue p95 "
        f"{p95} ms at {result.get('queue_rows', 0):,} (target ≤ {TARGET_P95_MS:.0f})"
    )
    run.save_results(f"listening-{args.db}", [result])


if __name__ == "__main__":
    main()
