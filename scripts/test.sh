#!/usr/bin/env bash
# The whole Kith test suite: lint, the suite on SQLite (browser tests included), then
# the suite again on PostgreSQL when one answers at $KITH_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
KITH_EXTRAS=dev source scripts/_venv.sh
export SECRET_KEY="kith-test-secret-not-for-production"
unset DATABASE_URL REDIS_URL

# Browser tests drive Debian's chromium; install it when missing and we are allowed to.
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests…"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "!!! could not install chromium: browser tests will be SKIPPED"
  else
    echo "!!! chromium is not installed and cannot be installed here: browser tests will be SKIPPED"
  fi
fi

echo "== lint (ruff)"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks

workers="${KITH_TEST_WORKERS:-2}"
echo "== tests on SQLite"
.venv/bin/pytest -n "$workers" -p no:cacheprovider "$@"

PG_URL="${KITH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if .venv/bin/python - "$PG_URL" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL unreachable: {exc}")
    sys.exit(1)
PY
then
  echo "== tests on PostgreSQL ($PG_URL)"
  DATABASE_URL="$PG_URL" .venv/bin/pytest -n "$workers" -p no:cacheprovider -m "not e2e" "$@"
else
  if [ "${CI:-}" = "true" ] && [ "${KITH_REQUIRE_POSTGRES:-}" = "true" ]; then
    echo "!!! PostgreSQL is required in this CI run but unreachable" >&2
    exit 1
  fi
  echo "!!! PostgreSQL is not reachable at $PG_URL: the PostgreSQL suite was SKIPPED"
fi
