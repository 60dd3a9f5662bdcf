#!/usr/bin/env bash
# Set Kith up and run it: virtual environment, database, demo data, web UI + API on
# http://127.0.0.1:8000 with the embedded SQLite database under ./var/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
export DEBUG="${DEBUG:-true}"
.venv/bin/kith migrate --verbosity 0
.venv/bin/kith demo
exec .venv/bin/kith serve "$@"
