"""Collaboration benchmark: "my feed" at scale and the cost of fanning a post out.

    .venv/bin/python benchmarks/collab_bench.py [--db sqlite|postgres|both] [--quick]
        [--posts 1000000] [--samples 300]

For each database it builds a fresh one (a SQLite file under /tmp/kith-bench-collab,
or the PostgreSQL database ``kith_bench_collab`` at
postgres://postgres@127.0.0.1:5432/postgres, created and dropped here), migrates it,
and in a child process with ``DATABASE_URL`` pointing at it:

1. loads 20,000 records (people), ``--posts`` posts spread over them with a skew
   (default 1,000,000; ``--quick`` 100,000), one reader following 1,000 records and 20
   other readers following 1,000 each, and the fan-out rows (``FeedItem``) those
   follows produce, written in post order as the app would have;
2. measures "my feed" for the reader: the first page, random deeper pages (cursor),
   the mentions filter, and the whole API call ``GET /api/feed?limit=20``; and, for
   comparison, the pull design (posts ``WHERE target IN (1,000 followed) ORDER BY id
   DESC LIMIT 20``);
3. measures the fan-out of one post to 10,000 followers: the feed rows alone, the
   request path with the default inline limit (the rest queued), the queued task
   (10,000 notifications + 10,000 feed rows), and everything inline.

Prints a table and writes benchmarks/results/collab-<db>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("KITH_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DB = "kith_bench_collab"
BASE_DIR = Path(os.environ.get("KITH_BENCH_DIR", "/tmp/kith-bench-collab"))
RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "kith-benchmark-secret-not-for-production-0123456789"

RECORDS = 20_000
FOLLOWED = 1_000
OTHER_READERS = 20
FANOUT_FOLLOWERS = 10_000


# ---------------------------------------------------------------- parent process


def _env(db_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY=SECRET,
        KITH_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="kith.settings",
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        KITH_DELIVER_EVENTS_ON_COMMIT="true",
    )
    env.pop("REDIS_URL", None)
    return env


def _pg_admin(sql: str) -> bool:
    try:
        import psycopg
    except ImportError:
        print("psycopg missing: PostgreSQL skipped")
        return False
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql)
        return True
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc}); skipped")
        return False


def run_db(kind: str, args: argparse.Namespace) -> dict | None:
    data_dir = Path(tempfile.mkdtemp(prefix=f"collab-{kind}-", dir=_base()))
    if kind == "sqlite":
        path = data_dir / "collab.sqlite3"
        db_url = f"sqlite:///{path}"
    else:
        if not _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB}"):
            return None
        _pg_admin(f"CREATE DATABASE {PG_DB}")
        db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    env = _env(db_url, data_dir)
    try:
        print(f"[{kind}] migrating…", flush=True)
        subprocess.run([PYTHON, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
        cmd = [
            PYTHON,
            __file__,
            "--child",
            "--posts",
            str(args.posts),
            "--samples",
            str(args.samples),
        ]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        sys.stderr.write(out.stderr)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["db"] = kind
        return result
    finally:
        if kind == "postgres" and not args.keep:
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def _base() -> Path:
    BASE_DIR.mkdir(parents=True, exist_ok=True)
    return BASE_DIR


def report(result: dict) -> None:
    db = result["db"]
    print(f"\n== {db}: {result['posts']:,} posts, {result['feed_items']:,} feed rows ==")
    for name, figures in result["timings"].items():
        print(f"  {name:<44} p50 {figures['p50']:8.2f} ms   p95 {figures['p95']:8.2f} ms")
    for name, value in result["fanout"].items():
        print(f"  {name:<44} {value:10.1f} ms")
    p95 = result["timings"]["my feed (query, first page)"]["p95"]
    api = result["timings"]["GET /api/feed?limit=20"]["p95"]
    print(
        f"  target: my feed p95 ≤ 50 ms → query {p95:.1f} ms, API {api:.1f} ms: "
        f"{'MET' if max(p95, api) <= 50 else 'MISSED'}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"collab-{db}.json").write_text(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="100,000 posts")
    parser.add_argument("--posts", type=int, default=None)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.posts is None:
        args.posts = 100_000 if args.quick else 1_000_000
    if args.child:
        child(args)
        return
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for kind in kinds:
        started = time.monotonic()
        result = run_db(kind, args)
        if result:
            result["seconds"] = round(time.monotonic() - started, 1)
            report(result)


# ---------------------------------------------------------------- child process


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return {"p50": statistics.median(ordered) * 1000, "p95": p95 * 1000, "n": len(ordered)}


def _time(fn, n: int) -> dict[str, float]:
    fn()  # warm
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return _ms(samples)


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.test import Client

    from kith.accounts.models import User
    from kith.collab import queries, services
    from kith.collab.models import FeedItem, Follow, Post
    from kith.core.pagination import encode_cursor
    from kith.people.models import Party

    settings.ALLOWED_HOSTS = ["*"]
    rng = random.Random(42)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    sqlite = connection.vendor == "sqlite"
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def uid() -> str:
        return uuid.uuid4().hex if sqlite else str(uuid.uuid4())

    def when(t: dt.datetime):
        return t.replace(tzinfo=None).isoformat(" ") if sqlite else t

    log(f"[{connection.vendor}] records and readers…")
    author = User.objects.create(username="author", kind="staff", role="admin", password="!")
    reader = User.objects.create(username="reader", kind="staff", role="agent", password="!")
    others = User.objects.bulk_create(
        [User(username=f"other{i}", password="!") for i in range(OTHER_READERS)]
    )
    Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Person {i}", sort_name=f"person {i}")
            for i in range(RECORDS)
        ],
        batch_size=5000,
    )
    party_ids = list(Party.objects.order_by("id").values_list("id", flat=True))
    ct = ContentType.objects.get_for_model(Party)
    readers = [reader, *others]
    follows: dict[int, set[int]] = {}
    for user in readers:
        chosen = set(rng.sample(party_ids, FOLLOWED))
        follows[user.pk] = chosen
        Follow.objects.bulk_create(
            [Follow(target_type=ct, target_id=t, follower=user) for t in chosen], batch_size=5000
        )

    log(f"[{connection.vendor}] {args.posts:,} posts and their feed rows…")
    weights = [1 / (i + 1) ** 0.6 for i in range(len(party_ids))]
    shuffled = party_ids[:]
    rng.shuffle(shuffled)
    post_cols = (
        "id, public_id, created_at, updated_at, target_type_id, target_id, kind, author_id, "
        "body_markdown, body_html, visibility, system_key, system_lines, comment_count"
    )
    item_cols = "user_id, post_id, target_type_id, target_id, mention"
    followers_of: dict[int, list[int]] = {}
    for user_id, targets in follows.items():
        for t in targets:
            followers_of.setdefault(t, []).append(user_id)
    start = now - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / args.posts
    feed_rows = 0
    reader_items = 0
    t0 = time.monotonic()
    targets = rng.choices(shuffled, weights=weights, k=args.posts)

    def rows():
        nonlocal feed_rows, reader_items
        for i in range(1, args.posts + 1):
            target = targets[i - 1]
            created = when(start + step * i)
            post = (
                i,
                uid(),
                created,
                created,
                ct.pk,
                target,
                "post",
                author.pk,
                f"post {i}",
                f"<p>post {i}</p>",
                "internal",
                "",
                "[]",
                0,
            )
            items = []
            for user_id in followers_of.get(target, ()):
                mention = user_id == reader.pk and rng.random() < 0.02
                items.append((user_id, i, ct.pk, target, mention))
                reader_items += user_id == reader.pk
            feed_rows += len(items)
            yield post, items

    connection.ensure_connection()
    raw = connection.connection
    if sqlite:
        raw.execute("PRAGMA synchronous=OFF")
        posts, items = [], []
        with transaction.atomic():
            for post, its in rows():
                posts.append(post)
                items.extend(its)
                if len(posts) >= 50_000:
                    raw.executemany(
                        f"INSERT INTO collab_post ({post_cols}) VALUES ({','.join('?' * 14)})",
                        posts,
                    )
                    raw.executemany(
                        f"INSERT INTO collab_feeditem ({item_cols}) VALUES (?,?,?,?,?)", items
                    )
                    posts, items = [], []
            if posts:
                raw.executemany(
                    f"INSERT INTO collab_post ({post_cols}) VALUES ({','.join('?' * 14)})", posts
                )
                raw.executemany(
                    f"INSERT INTO collab_feeditem ({item_cols}) VALUES (?,?,?,?,?)", items
                )
        raw.execute("PRAGMA synchronous=NORMAL")
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    else:
        all_items = []
        with transaction.atomic(), connection.cursor() as cur:
            with cur.cursor.copy(f"COPY collab_post ({post_cols}) FROM STDIN") as copy:
                for post, its in rows():
                    copy.write_row(post)
                    all_items.extend(its)
            with cur.cursor.copy(f"COPY collab_feeditem ({item_cols}) FROM STDIN") as copy:
                for item in all_items:
                    copy.write_row(item)
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('collab_post','id'), %s)", [args.posts]
            )
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    log(f"[{connection.vendor}] loaded in {time.monotonic() - t0:.0f} s; measuring…")

    timings: dict[str, dict[str, float]] = {}
    n = args.samples
    # A yardstick for the machine: one primary-key SELECT through the ORM.
    timings["baseline: User by pk (ORM)"] = _time(
        lambda: User.objects.filter(pk=reader.pk).first(), n
    )
    timings["my feed (query, first page)"] = _time(
        lambda: list(queries.my_feed(reader, limit=20).items), n
    )
    mine = list(FeedItem.objects.filter(user=reader).values_list("post_id", flat=True))
    cursors = [encode_cursor([rng.choice(mine)]) for _ in range(n + 1)]
    it = iter(cursors)
    timings["my feed (query, random deeper page)"] = _time(
        lambda: list(queries.my_feed(reader, limit=20, cursor=next(it)).items), n
    )
    timings["my feed (query, mentions filter)"] = _time(
        lambda: list(queries.my_feed(reader, filter="mentions", limit=20).items), n
    )
    client = Client()
    client.force_login(reader)

    def api():
        res = client.get("/api/feed", {"limit": 20})
        assert res.status_code == 200, res.content[:200]

    timings["GET /api/feed?limit=20"] = _time(api, n)
    followed = sorted(follows[reader.pk])
    timings["pull design: posts IN (1,000 records)"] = _time(
        lambda: list(
            Post.objects.filter(target_type=ct, target_id__in=followed, deleted_at__isnull=True)
            .order_by("-id")
            .values_list("id", flat=True)[:20]
        ),
        max(20, n // 5),
    )

    log(f"[{connection.vendor}] fan-out to {FANOUT_FOLLOWERS:,} followers…")
    fans = User.objects.bulk_create(
        [User(username=f"fan{i}", password="!") for i in range(FANOUT_FOLLOWERS)],
        batch_size=2000,
    )
    hot = Party.objects.create(kind="person", display_name="Hot record")
    Follow.objects.bulk_create(
        [Follow(target_type=ct, target_id=hot.pk, follower=u) for u in fans], batch_size=2000
    )
    fanout: dict[str, float] = {}
    post = Post.objects.create(
        target_type=ct, target_id=hot.pk, author=author, body_markdown="x", body_html="<p>x</p>"
    )
    t0 = time.perf_counter()
    written = services.fan_out(post)
    fanout["feed rows for 10,000 followers (fan_out)"] = (time.perf_counter() - t0) * 1000
    assert written >= FANOUT_FOLLOWERS, written
    t0 = time.perf_counter()
    queued = services.create_post(actor=author, target=hot, body="Big news for #everyone")
    fanout["create_post, request path (rest queued)"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    done = services.deliver_post_now(
        post_id=queued.pk,
        actor_id=author.pk,
        verb="post",
        skip=[author.pk],
        mention_ids=[],
    )
    fanout["queued task: 10,000 notifications + feed rows"] = (time.perf_counter() - t0) * 1000
    assert done["notified"] == FANOUT_FOLLOWERS, done
    settings.KITH_COLLAB_INLINE_FANOUT = 10**9
    t0 = time.perf_counter()
    services.create_post(actor=author, target=hot, body="Everything inline")
    fanout["create_post with everything inline"] = (time.perf_counter() - t0) * 1000
    print(
        json.dumps(
            {
                "posts": args.posts,
                "feed_items": FeedItem.objects.count(),
                "reader_feed_items": reader_items,
                "timings": timings,
                "fanout": fanout,
                "vendor": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
