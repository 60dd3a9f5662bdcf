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
# The scripts below that take one database at a time run PostgreSQL only when it answers.
dbs=(sqlite)
if $PY -c "import os, psycopg; psycopg.connect(os.environ.get('KITH_BENCH_PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres'), connect_timeout=3).close()" 2>/dev/null; then
  dbs+=(postgres)
else
  echo "PostgreSQL is not reachable: its runs of the one-database scripts are skipped."
fi
echo "### foundation: timeline, search, create, import (benchmarks/run.py)"
$PY benchmarks/run.py --db both "${quick[@]}"
echo "### sales: forecast (benchmarks/sales_bench.py)"
$PY benchmarks/sales_bench.py --db both "${quick[@]}"
echo "### service: case queue view (benchmarks/service_bench.py)"
$PY benchmarks/service_bench.py --db both "${quick[@]}"
echo "### collaboration: my feed and fan-out (benchmarks/collab_bench.py)"
$PY benchmarks/collab_bench.py --db both "${quick[@]}"
echo "### work: My day and the calendar feed (benchmarks/work_bench.py)"
for db in "${dbs[@]}"; do
  $PY benchmarks/work_bench.py --db "$db" "${quick[@]}"
done
echo "### community: topic list, topic page, search, vote (benchmarks/community.py)"
$PY benchmarks/community.py --db both "${quick[@]}"
echo "### influence graph: PageRank, Leiden, betweenness (benchmarks/influence.py)"
if [ ${#quick[@]} -gt 0 ]; then
  $PY benchmarks/influence.py --nodes 10000 --edges 100000
else
  $PY benchmarks/influence.py
fi
echo "### global search: the command palette (benchmarks/global_search.py)"
for db in "${dbs[@]}"; do
  if [ ${#quick[@]} -gt 0 ]; then
    $PY benchmarks/global_search.py --db "$db" --rows 10000
  else
    $PY benchmarks/global_search.py --db "$db"
  fi
done
echo "### customer control: My data export, transparency log on vs off (benchmarks/cmr_export.py, transparency.py)"
for db in "${dbs[@]}"; do
  $PY benchmarks/cmr_export.py --db "$db"
  $PY benchmarks/transparency.py --db "$db"
done
echo "### listening: ingest with one and two workers, the engagement queue (benchmarks/listening.py)"
for db in "${dbs[@]}"; do
  $PY benchmarks/listening.py --db "$db" "${quick[@]}"
done
echo "### sentiment: held-out accuracy beside VADER, texts/s (benchmarks/sentiment.py)"
$PY benchmarks/sentiment.py --repeat 5 --processes 2
echo "### identity resolution: FEBRL1, FEBRL2, generated (benchmarks/identity.py)"
$PY benchmarks/identity.py --no-save
echo "### customer lifetime value: fit, recovery, holdout (benchmarks/clv.py)"
$PY benchmarks/clv.py
echo "### page loads need the server the README starts: ./scripts/up.sh, then"
echo "###   $PY benchmarks/page_loads.py --browser"
