# Sourced by the other scripts: make sure .venv exists and holds Kith and its pinned
# dependencies (extras in $KITH_EXTRAS, e.g. "dev"). Re-installs only when pyproject.toml
# changed since the last install, so repeated runs are fast.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
VENV="${KITH_VENV:-.venv}"

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "Kith needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv support separately (python3-venv); install it when we can.
    rm -rf "$VENV"
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "Installing python3-venv with apt-get…"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    else
      echo "Cannot create a virtual environment: install python3-venv (sudo apt-get install python3-venv)." >&2
      exit 1
    fi
  fi
fi

stamp="$VENV/.kith-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)-${KITH_EXTRAS:-}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing Kith and its dependencies into $VENV…"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ -n "${KITH_EXTRAS:-}" ]; then
    "$VENV/bin/python" -m pip install -q -e ".[${KITH_EXTRAS}]"
  else
    "$VENV/bin/python" -m pip install -q -e .
  fi
  echo "$want" > "$stamp"
fi
