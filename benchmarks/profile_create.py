"""Profile ``POST /api/people`` and the delivery of the event it causes.

    .venv/bin/python benchmarks/profile_create.py [--creates 300] [--top 30]
        [--database-url postgres://postgres@127.0.0.1:5432/kith_profile]
        [--no-profile] [--served 15] [--identity-model]

A fresh database (a SQLite file in a temporary folder unless ``--database-url`` names
a PostgreSQL database, which is dropped and created again), migrated, with an admin
and an API token. Requests go through Django's WSGI handler, the one ``kith serve``
hands ordinary requests to (``kith.asgi``), via ``httpx.WSGITransport``: the same
middleware, authentication, schema validation and services, without the socket. The
payload is the benchmark's realistic person (``run.person_payload``).

It prints, per create, the CPU time and queries of the request and, separately, of
the worker delivering the events those creates queued (``kith.core.worker.run_once``
until the outbox is drained), each followed by cProfile's top functions by
cumulative time. The two CPU figures added up are what ``kith serve`` with its
embedded worker spends per create (less uvicorn's share, see ``run.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sql", action="store_true", help="print each create's queries once")
    parser.add_argument(
        "--dump",
        default="",
        metavar="PREFIX",
        help="also save each phase's profile as PREFIX.<phase>",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="CPU and queries only (cProfile doubles CPU)"
    )
    parser.add_argument(
        "--no-delivery", action="store_true", help="measure the requests only, not the worker"
    )
    parser.add_argument(
        "--trickle",
        action="store_true",
        help="one worker pass after each create, as the embedded worker does when it keeps "
        "up with one client (by default all events wait and are delivered in batches)",
    )
    parser.add_argument(
        "--served",
        type=int,
        default=0,
        metavar="N",
        help="one pass of the served worker loop (run_once with run_forever's clock: "
        "events when signalled, chores when due) after every N creates, as kith serve "
        "does when N creates arrive within its gathering window (15 at 150 creates/s)",
    )
    parser.add_argument(
        "--chores-every",
        type=int,
        default=1,
        metavar="N",
        help="with --trickle: run the worker's task batch and periodic jobs every N passes "
        "only (to measure what that would save; kith.core.worker runs them every pass)",
    )
    parser.add_argument(
        "--identity-model",
        action="store_true",
        help="train an identity model first (on synthetic people, as the weekly retrain "
        "would on real ones), so the worker scores each new person as it does in production "
        "once a model exists",
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="kith-profile-")
    os.environ.update(
        KITH_DATA_DIR=data_dir,
        SECRET_KEY="kith-profile-secret-not-for-production-0123456789",
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="kith.settings",
        KITH_LOG_LEVEL="WARNING",
    )
    if args.database_url:
        import psycopg

        os.environ["DATABASE_URL"] = args.database_url
        admin_url, name = args.database_url.rsplit("/", 1)
        with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    import httpx
    import run
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from kith.core import events, worker
    from kith.core.models import OutboxEvent

    call_command("migrate", verbosity=0)
    token = run.admin_token()
    run.field_definitions()
    rng = random.Random(7)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=get_wsgi_application()),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
    )

    def create(i: int) -> None:
        response = client.post("/api/people", json=run.person_payload(rng, f"p{i}", i))
        if response.status_code != 201:
            raise SystemExit(f"{response.status_code}: {response.text[:500]}")

    def drain() -> None:
        while OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists():
            worker.run_once()
        score_queued()

    def score_queued() -> None:
        # New people wait for the worker's periodic identity job (every 5 s), which
        # may not fall due within a short run: run it here so its cost is counted.
        from kith.people.identity import service as identity

        identity.score_queued()

    if args.identity_model:
        from kith.people.identity import features, synthetic
        from kith.people.identity import model as engine
        from kith.people.identity.models import IdentityModel

        records = synthetic.generate(300, seed=9).records
        IdentityModel.objects.create(
            status=IdentityModel.Status.DONE,
            model=engine.train([features.to_row(r) for r in records]),
        )
    for i in range(30):  # warm caches, imports and the connection
        create(i)
    drain()

    queries: Counter[str] = Counter()
    shown: set[str] = set()

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries[sql.split(" ", 1)[0]] += 1
        if args.sql and len(shown) < 40 and sql not in shown:
            shown.add(sql)
            print("  SQL:", sql[:300])
        return execute(sql, params, many, context)

    def trickle() -> None:
        # Between creates the worker finds one event per pass, so every pass's fixed
        # work (the task queue, the periodic jobs' claims) falls on one event.
        for _ in range(args.creates):
            worker.run_once()

    chunks: list[float] = []

    def requests() -> None:
        # CPU per create by chunks of 20 too: on a busy machine the quietest chunks
        # (the minimum, the median) compare two versions better than the mean.
        for start in range(0, args.creates, 20):
            cpu0 = time.process_time()
            n = min(20, args.creates - start)
            for i in range(n):
                create(1000 + start + i)
            chunks.append((time.process_time() - cpu0) * 1000 / n)

    phases = [("request", requests)] + ([] if args.no_delivery else [("delivery", drain)])
    for phase, work in phases if not (args.trickle or args.served) else ():
        queries.clear()
        profiler = cProfile.Profile()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with connection.execute_wrapper(count):
            if not args.no_profile:
                profiler.enable()
            work()
            profiler.disable()
        cpu = (time.process_time() - cpu0) * 1000 / args.creates
        wall = (time.perf_counter() - wall0) * 1000 / args.creates
        per = {k: round(v / args.creates, 2) for k, v in queries.most_common()}
        print(f"\n== {phase}: {cpu:.2f} ms CPU, {wall:.2f} ms wall per create; queries {per}")
        if phase == "request" and chunks:
            ordered = sorted(chunks)
            print(
                f"   CPU per create by chunks of 20: min {ordered[0]:.2f} ms, "
                f"median {ordered[len(ordered) // 2]:.2f} ms"
            )
        if args.no_profile:
            continue
        if args.dump:
            profiler.dump_stats(f"{args.dump}.{phase}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
    if args.served:
        worker._loop.clock = worker._Clock(interval=1.0)
        worker.run_once()  # the first pass polls and claims every periodic job
        # ... and queues their tasks (the weekly identity retrain, the daily customer
        # value run): run those before measuring, they are no create's cost.
        worker.run_tasks_batch(max_tasks=100)
        request_cpu = delivery_cpu = 0.0
        queries.clear()
        with connection.execute_wrapper(count):
            for i in range(args.creates):
                cpu0 = time.process_time()
                create(5000 + i)
                cpu1 = time.process_time()
                if (i + 1) % args.served == 0 or i + 1 == args.creates:
                    worker.run_once()
                request_cpu += cpu1 - cpu0
                delivery_cpu += time.process_time() - cpu1
            cpu0 = time.process_time()
            score_queued()
            delivery_cpu += time.process_time() - cpu0
        worker._loop.clock = None
        n = args.creates
        per = {k: round(v / n, 2) for k, v in queries.most_common()}
        print(
            f"== served (a worker pass every {args.served} creates): request "
            f"{request_cpu * 1000 / n:.2f} ms, worker {delivery_cpu * 1000 / n:.2f} ms CPU "
            f"per create; queries per create, both {per}"
        )
        left = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).count()
        print(f"   events left pending: {left}")
    if args.trickle:
        request_cpu = delivery_cpu = 0.0
        for i in range(args.creates):
            cpu0 = time.process_time()
            create(5000 + i)
            cpu1 = time.process_time()
            if args.chores_every > 1:
                # What the worker would cost if its task queue and periodic jobs ran at
                # most once every ``--chores-every`` passes instead of on every pass.
                events.deliver_pending(limit=200)
                if i % args.chores_every == 0:
                    worker.run_tasks_batch()
                    worker.run_due_jobs()
            else:
                worker.run_once()
            request_cpu += cpu1 - cpu0
            delivery_cpu += time.process_time() - cpu1
        n = args.creates
        print(
            f"== trickle: request {request_cpu * 1000 / n:.2f} ms, worker pass "
            f"{delivery_cpu * 1000 / n:.2f} ms CPU per create"
        )
        with connection.execute_wrapper(count):
            queries.clear()
            worker.run_once()
        print(f"   an idle worker pass: queries {dict(queries)}")


if __name__ == "__main__":
    main()
