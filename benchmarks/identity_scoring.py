"""What the worker spends scoring new people for duplicates, on a large database.

    .venv/bin/python benchmarks/run.py --db sqlite --keep       # once: 100,000 people
    .venv/bin/python benchmarks/identity_scoring.py [--db sqlite|postgres] [--quick]
        [--people 1000] [--repeat 3]

It reads the database ``run.py --keep`` left for the same ``--db`` and size (found and
configured as ``run.Target`` does), takes its ``--people`` newest people (the
benchmark's creates and imports: realistic names, addresses and namesakes), and
scores them as the worker's periodic job does (``score_new_people``, ``SCORE_BATCH`` at
a time) against the trained model the server stored, ``--repeat`` times. Before each
round their stored suggestions are deleted, so every round stores them afresh, as for
people just created. It prints, per person scored, the CPU time of this process
(``time.process_time``: DuckDB's threads included), the wall time, the queries and the
transactions, for each round and the median. The first batch is scored once untimed
(the model loads).

The database is left as the server would: the suggestions are stored again in the
last round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402  (benchmarks/ is not a package)
import run as bench  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--quick", action="store_true", help="the database run.py --quick --keep left"
    )
    parser.add_argument("--people", type=int, default=1000, help="newest people scored")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--base-dir",
        default=os.environ.get(
            "KITH_BENCH_DIR", str(Path(tempfile.gettempdir()) / "kith-benchmarks")
        ),
    )
    args = parser.parse_args()

    # The database run.py --keep left, and the environment its server ran with.
    sizes = dataset.Sizes(10_000, 100_000) if args.quick else dataset.Sizes(100_000, 1_000_000)
    target = bench.Target(args.db, sizes, Path(args.base_dir))
    if target.loaded_sizes() is None:
        quick = " --quick" if args.quick else ""
        sys.exit(f"no loaded database: run benchmarks/run.py --db {args.db}{quick} --keep first")
    os.environ.clear()
    os.environ.update(target.env())

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    from kith.people.identity import service
    from kith.people.identity.models import MatchSuggestion
    from kith.people.models import Party

    if service.active_model() is None:
        sys.exit("no trained identity model: start the server once (it trains at start-up)")
    ids = list(
        Party.objects.people().active().order_by("-pk").values_list("pk", flat=True)[: args.people]
    )
    batches = [ids[i : i + service.SCORE_BATCH] for i in range(0, len(ids), service.SCORE_BATCH)]
    print(
        f"{connection.vendor}: {Party.objects.people().count():,} people; scoring the "
        f"{len(ids):,} newest in batches of {service.SCORE_BATCH}"
    )
    service.score_new_people(batches[0])  # untimed: the model loads

    rounds = []
    for number in range(1, args.repeat + 1):
        MatchSuggestion.objects.filter(Q(left_id__in=ids) | Q(right_id__in=ids)).delete()
        cpu, wall = time.process_time(), time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            stored = sum(service.score_new_people(batch) for batch in batches)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        transactions = sum(
            1 for q in queries if q["sql"].upper().startswith(("BEGIN", "SAVEPOINT"))
        )
        figures = {
            "cpu_ms": cpu * 1000 / len(ids),
            "wall_ms": wall * 1000 / len(ids),
            "queries": len(queries) / len(ids),
            "transactions": transactions / len(ids),
        }
        rounds.append(figures)
        print(
            f"  round {number}: {figures['cpu_ms']:.2f} ms CPU, {figures['wall_ms']:.2f} ms "
            f"wall, {figures['queries']:.2f} queries, {figures['transactions']:.3f} "
            f"transactions per person; {stored:,} suggestions stored"
        )
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(
        f"median: {median['cpu_ms']:.2f} ms CPU, {median['wall_ms']:.2f} ms wall, "
        f"{median['queries']:.2f} queries, {median['transactions']:.3f} transactions per person"
    )


if __name__ == "__main__":
    main()
