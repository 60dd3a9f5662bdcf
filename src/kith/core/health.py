"""Start-up checks for ``kith serve`` and ``kith worker``: say what is wrong, in words.

Without them a missing, read-only or unreachable database, or a full disk, showed up as
an HTML 500 on the first request and a traceback a second from the worker. Each check
returns sentences an operator can act on; the commands print them and stop.

At request time the same failures answer 503 (``kith.core.http_errors``), and the
worker backs off and logs one line (``kith.core.worker``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

PROBE_TABLE = "kith_write_probe"


def min_free_bytes() -> int:
    return int(getattr(settings, "KITH_MIN_FREE_DISK_MB", 50)) * 1024 * 1024


def disk_problems(paths: list[Path]) -> list[str]:
    """A folder whose disk has less than ``KITH_MIN_FREE_DISK_MB`` free."""
    problems = []
    seen = set()
    for path in paths:
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        try:
            usage = shutil.disk_usage(existing)
        except OSError as exc:
            problems.append(f"Cannot read the free space of {path}: {exc.strerror}.")
            continue
        if (usage.total, usage.free) in seen:
            continue
        seen.add((usage.total, usage.free))
        if usage.free < min_free_bytes():
            problems.append(
                f"The disk holding {path} is full ({usage.free // (1024 * 1024)} MB free, "
                f"Kith needs {min_free_bytes() // (1024 * 1024)} MB: KITH_MIN_FREE_DISK_MB). "
                "Free some space."
            )
    return problems


def database_problems(alias: str = "default") -> list[str]:
    """Reachable, writable and migrated; one sentence per problem."""
    connection = connections[alias]
    vendor = connection.vendor
    name = connection.settings_dict["NAME"]
    if vendor == "sqlite":
        path = Path(str(name).removeprefix("file:").split("?", 1)[0])
        if str(name) != ":memory:" and "mode=memory" not in str(name) and not path.exists():
            # Connecting would create an empty file and hide the mistake.
            return [
                f"There is no database at {path}. Run `kith migrate` to create it "
                "(or set KITH_DATA_DIR / DATABASE_URL to where it is)."
            ]
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        return [f"Cannot open the database {name}: {exc}".strip()]
    problems = []
    try:
        if vendor == "sqlite":
            problems += _sqlite_write_probe(connection, name)
        elif vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                )
                recovery, read_only = cursor.fetchone()
            if recovery or read_only == "on":
                problems.append(
                    f"The PostgreSQL database {name} is read-only"
                    f"{' (a standby server)' if recovery else ''}; point DATABASE_URL at the primary."
                )
        if not problems:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if plan:
                problems.append(
                    f"The database {name} lacks {len(plan)} migration(s) of this Kith. "
                    "Run `kith migrate`."
                )
    except DatabaseError as exc:
        problems.append(f"The database {name} cannot be used: {exc}")
    return problems


def _sqlite_write_probe(connection, name) -> list[str]:
    """Write inside a transaction that is rolled back: fails on a read-only file or folder."""
    raw = connection.connection
    in_tx = raw.in_transaction
    if in_tx:
        return []  # inside someone's transaction (tests): do not disturb it
    try:
        raw.execute("BEGIN IMMEDIATE")
        try:
            raw.execute(f"CREATE TABLE {PROBE_TABLE} (x INTEGER)")
        finally:
            raw.execute("ROLLBACK")
    except Exception as exc:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            return [
                f"The SQLite database {name} is read-only ({text}). Kith must be able to "
                "write the file and its folder (for the -wal and -shm files)."
            ]
        if "disk is full" in text or "disk I/O" in text:
            return [f"The SQLite database {name} cannot be written: {text}. Free some space."]
        return [f"The SQLite database {name} cannot be written: {text}."]
    return []


def check_or_stop(command_name: str) -> None:
    """For management commands: raise ``CommandError`` listing the problems, if any."""
    from django.core.management.base import CommandError

    problems = startup_problems()
    if problems:
        raise CommandError(
            f"kith {command_name} cannot start:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def startup_problems() -> list[str]:
    """Everything that stops Kith from serving, as sentences (empty when all is well)."""
    data_dir = Path(settings.DATA_DIR)
    paths = [data_dir, Path(settings.MEDIA_ROOT)]
    db = connections["default"]
    if db.vendor == "sqlite":
        paths.insert(0, Path(str(db.settings_dict["NAME"]).split("?", 1)[0]).parent)
    problems = disk_problems(paths)
    problems += database_problems()
    return problems
