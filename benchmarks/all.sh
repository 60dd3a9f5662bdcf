#!/usr/bin/env bash
# Every Kith benchmark, one after the other, on SQLite and PostgreSQL (PostgreSQL is
# skipped with a message when no server answers). Pass --quick for the small sizes.
#   bash benchmarks/all.sh            # full sizes (takes a while)
#   bash benchmarks/all.sh --quick
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
echo "### foundation: timeline, search, create, import (benchmarks/run.py)"
$PY benchmarks/run.py --db both "${quick[@]}"
echo "### sales: forecast (benchmarks/sales_bench.py)"
$PY benchmarks/sales_bench.py --db both "${quick[@]}"
echo "### service: case queue view (benchmarks/service_bench.py)"
$PY benchmarks/service_bench.py --db both "${quick[@]}"
echo "### collaboration: my feed and fan-out (benchmarks/collab_bench.py)"
$PY benchmarks/collab_bench.py --db both "${quick[@]}"
echo "### work: My day and the calendar feed (benchmarks/work_bench.py)"
$PY benchmarks/work_bench.py --db sqlite "${quick[@]}"
$PY benchmarks/work_bench.py --db postgres "${quick[@]}"
echo "### community: topic list, topic page, search, vote (benchmarks/community.py)"
$PY benchmarks/community.py --db both "${quick[@]}"
