"""Backup and restore: the database and the uploaded files in one archive.

A backup is a gzip'd tar file (mode 0600: it holds every record and password hash):

* ``kith-backup.json`` — what is inside (format, database engine, when, which Kith);
* ``database.sqlite3`` — SQLite, copied with ``VACUUM INTO``: an online, consistent
  copy that works while ``kith serve`` and the worker keep writing (WAL mode lets it
  read a snapshot; the ``.backup`` command against a live server was seen never to
  finish, because every write restarts it), or
  ``database.pgdump`` — PostgreSQL, ``pg_dump --format=custom`` (a consistent snapshot
  too, restorable with ``pg_restore``);
* ``media/`` — uploads (attachments) under ``MEDIA_ROOT``;
* ``secret_key`` — the generated key from the data folder when there is one, so that
  signed links and calendar feed addresses keep working after a restore.

Restoring replaces the database and the uploads with the archive's; stop ``kith serve``
and ``kith worker`` first. The command then runs ``migrate`` (a backup from an older
Kith) and ``reindex``. A SQLite backup restores into SQLite and a PostgreSQL one into
PostgreSQL; to move between them use export and import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1
MANIFEST = "kith-backup.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
MEDIA_MEMBER = "media"
SECRET_MEMBER = "secret_key"


class BackupError(Exception):
    """Something the operator must fix; the message says what."""


@dataclass
class Summary:
    path: Path
    engine: str
    database_bytes: int
    media_files: int
    secret_key: bool


def engine_of(database: dict) -> str:
    engine = database["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"Backups support SQLite and PostgreSQL, not {engine}.")


# ---------------------------------------------------------------- SQLite


def sqlite_online_copy(db_path: Path, out_path: Path) -> None:
    """A consistent copy of a live SQLite database (``VACUUM INTO``, a read transaction)."""
    if not db_path.exists():
        raise BackupError(f"No SQLite database at {db_path}: nothing to back up.")
    if out_path.exists():
        out_path.unlink()
    source = sqlite3.connect(str(db_path), timeout=60)
    try:
        source.execute("PRAGMA busy_timeout = 60000")
        source.execute("VACUUM INTO ?", (str(out_path),))
    except sqlite3.Error as exc:
        raise BackupError(f"Could not copy the SQLite database {db_path}: {exc}") from exc
    finally:
        source.close()


def sqlite_put_in_place(restored: Path, db_path: Path) -> None:
    """Replace the database file; the old write-ahead log must go first, or SQLite would
    replay the old database's pages into the restored one."""
    check = sqlite3.connect(str(restored))
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        raise BackupError(f"The database in the backup is damaged: {result}")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    staged = db_path.with_name(db_path.name + ".restoring")
    shutil.copyfile(restored, staged)
    os.replace(staged, db_path)


# ---------------------------------------------------------------- PostgreSQL


def _pg_env(database: dict) -> dict[str, str]:
    """libpq's environment for ``database`` (no password on a command line)."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if database.get(key):
            env[var] = str(database[key])
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    env["PGDATABASE"] = str(database["NAME"])
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed; it comes with the PostgreSQL client "
            "(Debian: apt-get install postgresql-client, the same major version as the server)."
        )
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    # A fixed tool (found on PATH) and Kith's own arguments; the password is in env.
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def pg_dump(database: dict, out_path: Path) -> None:
    _run(
        [
            _pg_tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={out_path}",
        ],
        _pg_env(database),
    )


def pg_restore(database: dict, dump_path: Path) -> None:
    """Replace the objects of the dump in ``database``, all or nothing."""
    env = _pg_env(database)
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={database['NAME']}",
            str(dump_path),
        ],
        env,
    )


# ---------------------------------------------------------------- archives


def create_backup(
    dest: Path,
    *,
    database: dict,
    media_root: Path,
    data_dir: Path,
    kith_version: str = "",
) -> Summary:
    """Write the archive to ``dest`` (atomically: a partial file never has that name)."""
    engine = engine_of(database)
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kith-backup-", dir=dest.parent) as tmp:
        tmp_dir = Path(tmp)
        if engine == "sqlite":
            db_file = tmp_dir / SQLITE_MEMBER
            sqlite_online_copy(Path(database["NAME"]), db_file)
        else:
            db_file = tmp_dir / PG_MEMBER
            pg_dump(database, db_file)
        key_file = data_dir / SECRET_MEMBER
        media_files = (
            sum(1 for p in media_root.rglob("*") if p.is_file()) if media_root.is_dir() else 0
        )
        manifest = {
            "format": FORMAT,
            "engine": engine,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "kith_version": kith_version,
            "database": db_file.name,
            "media_files": media_files,
            "secret_key": key_file.is_file(),
        }
        manifest_file = tmp_dir / MANIFEST
        manifest_file.write_text(json.dumps(manifest, indent=2))
        partial = tmp_dir / "archive.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(manifest_file, arcname=MANIFEST)
            tar.add(db_file, arcname=db_file.name)
            if media_root.is_dir():
                tar.add(media_root, arcname=MEDIA_MEMBER)
            if key_file.is_file():
                tar.add(key_file, arcname=SECRET_MEMBER)
        os.replace(partial, dest)
    return Summary(
        dest, engine, db_file_size(dest, db_file.name), media_files, manifest["secret_key"]
    )


def db_file_size(archive: Path, member: str) -> int:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmember(member).size


def read_manifest(archive: Path) -> dict:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            handle = tar.extractfile(MANIFEST)
            if handle is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(handle.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a Kith backup ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} has backup format {manifest.get('format')}, not {FORMAT}.")
    return manifest


def restore_backup(archive: Path, *, database: dict, media_root: Path, data_dir: Path) -> Summary:
    """Put the archive's database, uploads and key in place of the current ones."""
    manifest = read_manifest(archive)
    engine = engine_of(database)
    if manifest["engine"] != engine:
        raise BackupError(
            f"This is a {manifest['engine']} backup and Kith now runs on {engine}; restore it "
            "into the same kind of database (to move between them, use kith export/import)."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kith-restore-", dir=data_dir) as tmp:
        tmp_dir = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            # The "data" filter refuses absolute paths, "..", links out of the folder
            # and device files: an archive cannot write outside tmp_dir.
            tar.extractall(tmp_dir, filter="data")
        db_file = tmp_dir / manifest["database"]
        if engine == "sqlite":
            sqlite_put_in_place(db_file, Path(database["NAME"]))
        else:
            pg_restore(database, db_file)
        media = tmp_dir / MEDIA_MEMBER
        media_files = 0
        if media.is_dir():
            media_files = sum(1 for p in media.rglob("*") if p.is_file())
            old = media_root.with_name(media_root.name + ".before-restore")
            shutil.rmtree(old, ignore_errors=True)
            if media_root.exists():
                os.replace(media_root, old)
            media_root.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(media), str(media_root))
            shutil.rmtree(old, ignore_errors=True)
        key = tmp_dir / SECRET_MEMBER
        restored_key = key.is_file()
        if restored_key:
            target = data_dir / SECRET_MEMBER
            staged = data_dir / f".{SECRET_MEMBER}.restoring"
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key.read_text())
            os.replace(staged, target)
    return Summary(
        archive, engine, db_file_size(archive, manifest["database"]), media_files, restored_key
    )
