"""The `kith` command as a user runs it: a fresh data directory, migrate, serve, ask the API."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KITH = shutil.which("kith", path=str(Path(sys.executable).parent)) or "kith"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(KITH_DATA_DIR=str(tmp_path), DEBUG="true")
    return env


def test_help_and_unknown_command(tmp_path):
    out = subprocess.run([KITH, "--help"], capture_output=True, text=True, env=_env(tmp_path))
    assert out.returncode == 0
    assert "usage: kith COMMAND" in out.stdout
    bad = subprocess.run([KITH, "frobnicate"], capture_output=True, text=True, env=_env(tmp_path))
    assert bad.returncode == 2 and "unknown command" in bad.stderr


def test_fresh_directory_migrate_and_serve(tmp_path):
    env = _env(tmp_path)
    migrate = subprocess.run(
        [KITH, "migrate", "--verbosity", "0"], capture_output=True, text=True, env=env, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
    assert (tmp_path / "kith.sqlite3").exists()
    admin = subprocess.run(
        [KITH, "createadmin", "root", "--password", "correct-horse-battery"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert admin.returncode == 0, admin.stderr
    token = subprocess.run(
        [KITH, "token", "root"], capture_output=True, text=True, env=env, timeout=60
    ).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [KITH, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        # Whether it serves, not how fast (that is the benchmarks' job): a loaded CI
        # machine may take a while to import the app and build the OpenAPI document.
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=15).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            if time.monotonic() > deadline:
                pytest.fail("kith serve did not answer within 60 s")
        spec = httpx.get(f"{base}/api/openapi.json").json()
        assert "/api/people/{public_id}/timeline" in spec["paths"]
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/api/people",
            json={"given_name": "Served", "family_name": "Person"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert (
            httpx.get(f"{base}/api/people", headers=headers).json()["items"][0]["display_name"]
            == "Served Person"
        )
        login = httpx.get(f"{base}/login/")
        assert login.status_code == 200
        assert httpx.get(f"{base}/static/kith/htmx.min.js").status_code == 200
        _import_runs_in_the_bulk_worker(base, headers, tmp_path, server.pid)
    finally:
        children = _children(server.pid)
        server.terminate()
        server.wait(timeout=10)
    # Stopping the server stops its bulk worker too.
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]


def _import_runs_in_the_bulk_worker(base: str, headers: dict, data_dir: Path, server_pid: int):
    """An import through the API is run by the bulk worker process, not the server."""
    rows = "First name,Last name,Email\n" + "".join(
        f"Imported{i},Person,imported{i}@example.org\n" for i in range(50)
    )
    job = httpx.post(
        f"{base}/api/imports",
        json={"content": rows, "file_name": "people.csv"},
        headers=headers,
    )
    assert job.status_code == 201, job.text
    deadline = time.monotonic() + 60
    while (status := httpx.get(f"{base}/api/imports/{job.json()['id']}", headers=headers).json())[
        "status"
    ] in {"queued", "running"}:
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["status"] == "done" and status["created"] == 50, status
    with sqlite3.connect(data_dir / "kith.sqlite3") as db:
        (ran_by,) = db.execute(
            "SELECT worker_ids FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'kith.people.tasks.run_import'"
        ).fetchone()
    (worker_id,) = json.loads(ran_by)
    _, role, pid, _ = worker_id.split("-")
    assert role == "bulk" and int(pid) in _children(server_pid)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
