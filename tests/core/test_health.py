"""Start-up checks (kith.core.health) and the worker's back-off on a sick database."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections import namedtuple
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.backends.sqlite3.base import DatabaseWrapper

from kith.core import health, worker

KITH = shutil.which("kith", path=str(Path(sys.executable).parent)) or "kith"


def _env(tmp_path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(KITH_DATA_DIR=str(tmp_path))
    return env


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_to_start_without_a_database(tmp_path, command):
    run = subprocess.run(
        [KITH, command], capture_output=True, text=True, env=_env(tmp_path), timeout=60
    )
    assert run.returncode != 0
    assert f"kith {command} cannot start" in run.stderr
    assert "Run `kith migrate`" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "kith.sqlite3").exists()  # the check did not create an empty one


def _wrapper(name: str) -> DatabaseWrapper:
    return DatabaseWrapper(
        {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {},
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
        },
        alias="probe",
    )


def test_a_read_only_sqlite_database_is_reported(tmp_path, db):
    path = tmp_path / "kith.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    # mode=ro: what a read-only file or mount gives (chmod does not stop root).
    ro = _wrapper(f"file:{path}?mode=ro")
    with mock.patch.object(health, "connections", {"default": ro}):
        problems = health.database_problems()
    ro.close()
    assert len(problems) == 1 and "is read-only" in problems[0], problems
    assert "attempt to write a readonly database" in problems[0]
    rw = _wrapper(str(path))
    with mock.patch.object(health, "connections", {"default": rw}):
        problems = health.database_problems()
    rw.close()
    assert problems and "migration" in problems[0]  # writable, but not migrated
    # The probe left nothing behind.
    con = sqlite3.connect(path)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["t"]
    con.close()


def test_a_full_disk_is_reported(tmp_path, settings):
    settings.KITH_MIN_FREE_DISK_MB = 50
    Usage = namedtuple("Usage", "total used free")
    with mock.patch.object(health.shutil, "disk_usage", return_value=Usage(10**9, 10**9, 10**6)):
        problems = health.disk_problems([tmp_path])
    assert len(problems) == 1 and "is full (0 MB free" in problems[0]
    assert health.disk_problems([tmp_path]) == []


def test_a_healthy_test_database_passes(db):
    assert health.database_problems() == []


def test_the_worker_backs_off_and_logs_one_line_while_the_database_is_down(caplog, monkeypatch):
    calls = []
    waits = []
    stop = threading.Event()

    def failing_pass():
        calls.append(1)
        if len(calls) >= 25:
            stop.set()
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(worker, "run_once", failing_pass)
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)
    monkeypatch.setattr(stop, "wait", lambda seconds: waits.append(seconds))
    with caplog.at_level(logging.INFO, logger="kith.worker"):
        worker.run_forever(interval=1.0, stop=stop)
    assert waits[:7] == [1, 2, 4, 8, 16, 32, 60] and max(waits) == 60
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 3  # passes 1, 10 and 20 of 25, not one per pass
    assert all(r.exc_info is None for r in lines)  # no traceback
