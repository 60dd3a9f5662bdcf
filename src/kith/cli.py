"""The ``kith`` command: a friendly front door to Django's management commands.

kith serve | migrate | demo | import | export | createadmin | worker | token | reindex | status | prune | check | manage …
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "serve": "serve",
    "migrate": "migrate",
    "backup": "backup",
    "restore": "restore",
    "demo": "demo",
    "import": "import_people",
    "export": "export_people",
    "createadmin": "createadmin",
    "worker": "worker",
    "token": "issue_token",
    "reindex": "reindex",
    "status": "status",
    "prune": "prune",
    "check": "check_consistency",
    "identity": "identity",
}

USAGE = """usage: kith COMMAND [options]

commands:
  serve        serve the web UI and API on http://127.0.0.1:8000 (with a background worker)
  migrate      create or upgrade the database
  backup       the database (online, while Kith runs) and the uploads in one archive
  restore      put a backup back (stop serve and worker first), then migrate and reindex
  demo         load the deterministic demo data set (and demo logins)
  import       import people or organisations from CSV or vCard
  export       export people or organisations to CSV or vCard
  createadmin  create an admin login
  worker       deliver events and run background tasks
  token        issue an API token for a user
  reindex      rebuild the search index (after a restore; daily for roles that end)
  status       what waits for the worker (the outbox backlog per lane)
  prune        delete delivered events, old idempotency keys, finished tasks, old sessions now
  identity     train the identity-resolution model (train [--queue]) or show its status
  check        recompute forecasts, stage histories, SLA clocks, counters; report drift (--fix)
  manage       any Django management command (kith manage help)

Each command takes --help. Settings come from the environment (DATABASE_URL, SECRET_KEY, …).
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return
    name, rest = argv[0], argv[1:]
    if name == "manage":
        target = rest
    elif name in COMMANDS:
        target = [COMMANDS[name], *rest]
    else:
        print(f"kith: unknown command {name!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    from django.core.management import execute_from_command_line

    if target and target[0] == "migrate":
        from kith.settings import DATA_DIR

        DATA_DIR.mkdir(parents=True, exist_ok=True)
    execute_from_command_line(["kith", *target])


if __name__ == "__main__":
    main()
