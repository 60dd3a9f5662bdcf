"""Backup and restore (kith.core.backup, ``kith backup`` / ``kith restore``).

SQLite: an online copy with VACUUM INTO while another connection writes, a round trip of
database, uploads and key, and the whole thing through the ``kith`` command. PostgreSQL:
pg_dump / pg_restore between two scratch databases (skipped, saying why, without
PostgreSQL or its client tools).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from kith.core import backup

KITH = shutil.which("kith", path=str(Path(sys.executable).parent)) or "kith"
SQLITE = "django.db.backends.sqlite3"


def _make_db(path: Path, rows: int = 3) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    con.executemany("INSERT INTO t (v) VALUES (?)", [(f"row{i}",) for i in range(rows)])
    con.commit()
    con.close()


def _rows(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT v FROM t ORDER BY id")]
    finally:
        con.close()


def test_vacuum_into_copies_a_live_database_without_uncommitted_writes(tmp_path):
    db = tmp_path / "live.sqlite3"
    _make_db(db)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a server in the middle of a write
    writer.execute("INSERT INTO t (v) VALUES ('uncommitted')")
    done = threading.Event()

    def copy():
        backup.sqlite_online_copy(db, tmp_path / "copy.sqlite3")
        done.set()

    thread = threading.Thread(target=copy)
    thread.start()
    thread.join(timeout=30)
    assert done.is_set(), "VACUUM INTO must not wait for the writer"
    writer.execute("COMMIT")
    writer.close()
    assert _rows(tmp_path / "copy.sqlite3") == ["row0", "row1", "row2"]


def test_sqlite_round_trip_of_database_uploads_and_key(tmp_path):
    data = tmp_path / "data"
    media = data / "media"
    (media / "collab" / "2026").mkdir(parents=True)
    (media / "collab" / "2026" / "a.txt").write_text("attachment")
    (data / "secret_key").write_text("k" * 60)
    db = data / "kith.sqlite3"
    _make_db(db)
    database = {"ENGINE": SQLITE, "NAME": str(db)}
    archive = tmp_path / "out" / "b.tar.gz"
    summary = backup.create_backup(archive, database=database, media_root=media, data_dir=data)
    assert summary.media_files == 1 and summary.secret_key and summary.engine == "sqlite"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {
        "kith-backup.json",
        "database.sqlite3",
        "media/collab/2026/a.txt",
        "secret_key",
    } <= names

    # Everything changes after the backup…
    con = sqlite3.connect(db)
    con.execute("DELETE FROM t")
    con.execute("INSERT INTO t (v) VALUES ('after')")
    con.commit()
    con.close()
    Path(f"{db}-wal").write_bytes(b"stale write-ahead log from the old database")
    shutil.rmtree(media)
    (media / "new").mkdir(parents=True)
    (media / "new" / "b.txt").write_text("later")
    (data / "secret_key").write_text("z" * 60)

    # …and the restore puts back what the archive holds.
    restored = backup.restore_backup(archive, database=database, media_root=media, data_dir=data)
    assert restored.media_files == 1
    assert _rows(db) == ["row0", "row1", "row2"]
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    assert (media / "collab" / "2026" / "a.txt").read_text() == "attachment"
    assert not (media / "new").exists()
    assert (data / "secret_key").read_text() == "k" * 60
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600


def test_restore_refuses_other_engines_and_foreign_files(tmp_path):
    db = tmp_path / "kith.sqlite3"
    _make_db(db)
    archive = tmp_path / "b.tar.gz"
    backup.create_backup(
        archive,
        database={"ENGINE": SQLITE, "NAME": str(db)},
        media_root=tmp_path / "none",
        data_dir=tmp_path,
    )
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "kith"}
    with pytest.raises(backup.BackupError, match="sqlite backup and Kith now runs on postgresql"):
        backup.restore_backup(archive, database=pg, media_root=tmp_path / "m", data_dir=tmp_path)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(backup.BackupError, match="not a Kith backup"):
        backup.read_manifest(junk)


def test_an_archive_cannot_write_outside_the_restore_folder(tmp_path):
    db = tmp_path / "kith.sqlite3"
    _make_db(db)
    archive = tmp_path / "b.tar.gz"
    backup.create_backup(
        archive,
        database={"ENGINE": SQLITE, "NAME": str(db)},
        media_root=tmp_path / "x",
        data_dir=tmp_path,
    )
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(evil, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        import io

        dst.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.TarError):
        backup.restore_backup(
            evil,
            database={"ENGINE": SQLITE, "NAME": str(tmp_path / "target.sqlite3")},
            media_root=tmp_path / "m",
            data_dir=tmp_path / "d",
        )
    assert not (tmp_path / "d" / ".." / "escaped.txt").resolve().exists()


def _kith(env: dict, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([KITH, *args], capture_output=True, text=True, env=env, timeout=timeout)


def _people(env: dict) -> list[str]:
    code = (
        "from kith.accounts.models import User;"
        "print(','.join(sorted(User.objects.values_list('username', flat=True))))"
    )
    out = _kith(env, "manage", "shell", "-c", code)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1].split(",")


def test_kith_backup_and_restore_commands_on_sqlite(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(KITH_DATA_DIR=str(tmp_path / "data"))
    assert _kith(env, "migrate", "--verbosity", "0").returncode == 0
    assert _kith(env, "createadmin", "root", "--password", "correct-horse-battery").returncode == 0
    upload = tmp_path / "data" / "media" / "collab" / "x.txt"
    upload.parent.mkdir(parents=True)
    upload.write_text("file")
    made = _kith(env, "backup", "--output", str(tmp_path / "b.tar.gz"))
    assert made.returncode == 0, made.stderr
    assert "1 uploaded files" in made.stdout
    assert _kith(env, "createadmin", "later", "--password", "correct-horse-battery").returncode == 0
    upload.unlink()
    refused = _kith(env, "restore", str(tmp_path / "b.tar.gz"))  # no terminal, no --yes
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert _people(env) == ["later", "root"]
    restored = _kith(env, "restore", str(tmp_path / "b.tar.gz"), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Indexed" in restored.stdout
    assert _people(env) == ["root"]
    assert upload.read_text() == "file"


@pytest.mark.postgres
def test_postgresql_round_trip_with_pg_dump_and_pg_restore(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backup: run the suite with DATABASE_URL=postgres://…")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("PostgreSQL backup: pg_dump/pg_restore are not installed (postgresql-client)")
    import psycopg

    settings_dict = connection.settings_dict
    params = {
        k: v
        for k, v in {
            "host": settings_dict.get("HOST"),
            "port": settings_dict.get("PORT"),
            "user": settings_dict.get("USER"),
            "password": settings_dict.get("PASSWORD"),
        }.items()
        if v
    }
    base = f"{settings_dict['NAME']}_bk"
    names = [f"{base}_src", f"{base}_dst"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(dbname=names[0], **params) as src:
            src.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
            src.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
        with psycopg.connect(dbname=names[1], **params) as dst:
            dst.execute("CREATE TABLE t (id serial PRIMARY KEY, v text)")
            dst.execute("INSERT INTO t (v) VALUES ('other')")
        db = {**settings_dict, "NAME": names[0]}
        archive = tmp_path / "pg.tar.gz"
        summary = backup.create_backup(
            archive, database=db, media_root=tmp_path / "media", data_dir=tmp_path
        )
        assert summary.engine == "postgresql" and summary.database_bytes > 0
        backup.restore_backup(
            archive,
            database={**settings_dict, "NAME": names[1]},
            media_root=tmp_path / "media",
            data_dir=tmp_path,
        )
        with psycopg.connect(dbname=names[1], **params) as dst:
            rows = [r[0] for r in dst.execute("SELECT v FROM t ORDER BY id")]
        assert rows == ["a", "b"]
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
