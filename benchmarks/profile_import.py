"""Profile a people import through the CLI and through the API, events delivered.

    .venv/bin/python benchmarks/profile_import.py [--rows 20000] [--known 4000]
        [--phase cli|api|both] [--profile] [--top 30]
        [--database-url postgres://postgres@127.0.0.1:5432/kith_profile]

A fresh database (a SQLite file in a temporary folder unless ``--database-url`` names
a PostgreSQL database, dropped and created again), migrated, with an admin, an API
token and the benchmark's custom fields. ``--known`` people are imported first
(untimed), then each phase imports ``run.py``'s realistic CSV of ``--rows`` rows in
which a fifth are those known people (``run.Bench.import_file``):

* ``cli``: the ``kith import FILE`` command (``import_people``) in this process;
* ``api``: ``POST /api/imports`` through Django's WSGI handler (``httpx.WSGITransport``),
  then the worker's task batch runs the job;

and then the worker (``kith.core.worker.run_once``) until the outbox is drained. It
prints the CPU time (``time.process_time``: this process, so other engineers' load
hardly moves it) of the import and of the delivery, per row and as rows/s on one
core; with ``--profile`` each part also under cProfile (which roughly doubles CPU).
An import of more than one chunk validates ahead in a child process
(``KITH_IMPORT_VALIDATE_AHEAD``): its CPU is printed beside the writer's, not in it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import sys
import tempfile
import time
import types
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the import's validation child)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--known", type=int, default=4_000)
    parser.add_argument("--phase", choices=("cli", "api", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile each part")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="leave identity resolution untrained (by default a model is trained on the "
        "known people first, as the served worker's weekly retrain does, so new people "
        "are scored against it on delivery)",
    )
    parser.add_argument("--dump", default="", metavar="PREFIX", help="save profiles as PREFIX.*")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="kith-profile-import-")
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

    from kith.core import worker
    from kith.core.models import OutboxEvent
    from kith.people.models import ContactPoint, ImportJob

    call_command("migrate", verbosity=0)
    token = run.admin_token()
    run.field_definitions()
    client = httpx.Client(
        transport=httpx.WSGITransport(app=get_wsgi_application()),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    # What run.Bench.import_file reads of its Bench.
    bench = types.SimpleNamespace(
        args=types.SimpleNamespace(import_rows=args.known),
        run_id="prof",
        rng=random.Random(11),
        serial=0,
    )

    def drain() -> None:
        while OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists():
            worker.run_once()

    def cli_import(path: Path) -> None:
        call_command("import_people", str(path), "--no-progress", stdout=io.StringIO())

    if args.no_train:
        # The worker's weekly retrain would train one at the first pass: claim its period.
        from django.core.cache import cache

        cache.add("kith:periodic:people.identity_retrain", time.time(), timeout=7 * 24 * 3600)
    # Known people: an untimed first import (it also warms imports and caches).
    path, _ = run.Bench.import_file(bench, [], "known")
    cli_import(path)
    path.unlink()
    drain()
    people = [
        (pid, None, "Known", "Person", email, "")
        for pid, email in ContactPoint.objects.filter(channel="email")
        .order_by("id")
        .values_list("party_id", "value")[: args.known]
    ]
    bench.args.import_rows = args.rows
    if not args.no_train:
        from kith.people.identity import service as identity

        run_ = identity.request_training(actor=None)
        run_ = identity.run_training(run_id=run_.pk)
        print(f"identity model: {run_.status}, fallback {run_.fallback}")

    queries: Counter[str] = Counter()

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries[sql.split(" ", 1)[0]] += 1
        return execute(sql, params, many, context)

    gc_time = [0.0, 0.0]  # CPU in collections, start of the current one
    gc_runs: Counter[int] = Counter()

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]
            gc_runs[info["generation"]] += 1

    gc.callbacks.append(on_gc)

    child_cpu = [0.0]  # the phase's CPU in children (the validation child)

    def measured(label: str, work) -> float:  # type: ignore[no-untyped-def]
        queries.clear()
        gc_time[0] = 0.0
        gc_runs.clear()
        profiler = cProfile.Profile()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        children0 = _children_cpu()
        with connection.execute_wrapper(count):
            if args.profile:
                profiler.enable()
            work()
            profiler.disable()
        if args.profile and args.dump:
            profiler.dump_stats(f"{args.dump}.{label.replace(' ', '_').replace('+', '')}")
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        children = _children_cpu() - children0
        per = {k: v for k, v in queries.most_common(6)}
        print(
            f"  {label}: {cpu:.2f} s CPU ({cpu * 1000 / args.rows:.3f} ms/row), "
            f"{wall:.2f} s wall; queries {per}; garbage collector {gc_time[0]:.2f} s CPU "
            f"(collections by generation {dict(sorted(gc_runs.items()))})"
            + (
                f"; and {children:.2f} s CPU ({children * 1000 / args.rows:.3f} ms/row) in "
                "the child validating ahead (kith.core.ahead)"
                if children > 0.005
                else ""
            )
        )
        child_cpu[0] += children
        if args.profile:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
        return cpu

    phases = ("cli", "api") if args.phase == "both" else (args.phase,)
    for phase in phases:
        child_cpu[0] = 0.0
        path, dupes = run.Bench.import_file(bench, people, phase)
        print(f"== {phase}: {args.rows:,} rows, {dupes:,} known people")
        if phase == "cli":
            imported = measured(f"{phase} import", lambda p=path: cli_import(p))
        else:
            content = path.read_text(encoding="utf-8")

            def api(content: str = content) -> None:
                response = client.post(
                    "/api/imports",
                    json={
                        "kind": "people",
                        "format": "csv",
                        "file_name": "bench.csv",
                        "content": content,
                    },
                )
                assert response.status_code == 201, response.text[:500]
                while ImportJob.objects.filter(status__in=("queued", "running")).exists():
                    worker.run_tasks_batch()

            imported = measured("api POST + job", api)
        path.unlink()
        job = ImportJob.objects.order_by("-id").first()
        print(
            f"  job {job.status}: created {job.created_count}, updated {job.updated_count}, "
            f"unchanged {job.unchanged_count}, rejected {job.error_count}"
        )
        delivered = measured(f"{phase} delivery", drain)
        total = imported + delivered
        print(
            f"  total {total * 1000 / args.rows:.3f} ms CPU/row = "
            f"{args.rows / total:,.0f} rows/s on one core, events delivered"
            + (
                f"; with the validation child's CPU "
                f"{(total + child_cpu[0]) * 1000 / args.rows:.3f} ms/row"
                if child_cpu[0] > 0.005
                else ""
            )
        )


if __name__ == "__main__":
    main()
