#!/usr/bin/env bash
# Set Kith up and run it: virtual environment, database, demo data, web UI + API on
# http://127.0.0.1:8000 with the embedded SQLite database under ./var/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Never DEBUG here: its pages list every URL pattern and show tracebacks (with settings)
# to whoever can reach the port. Run `.venv/bin/kith serve` yourself to debug.
if [ -n "${DEBUG:-}" ] && [ "${DEBUG,,}" != "false" ] && [ "${DEBUG}" != "0" ]; then
  echo "scripts/up.sh does not run with DEBUG=$DEBUG; unset it (DEBUG pages leak internals)." >&2
  exit 1
fi
export DEBUG=false
source scripts/_venv.sh
.venv/bin/kith migrate --verbosity 0
.venv/bin/kith demo
exec .venv/bin/kith serve "$@"
