"""``kith serve`` stops within its shutdown timeout even while a request is stuck.

The stuck request is an API POST whose body never finishes arriving: the endpoint
reads the body in a thread of the WSGI pool, which then waits for bytes that never
come. Before the timeout existed, SIGTERM left the server waiting on it forever.
"""

import signal
import socket
import subprocess
import time

import pytest

from kith.core.management.commands import serve
from tests.test_cli import KITH, _env, _free_port


def _wait_for_port(port: int, server: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"kith serve exited early: {server.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("kith serve did not listen in time")


def test_serve_exits_within_the_shutdown_timeout_despite_a_stuck_request(tmp_path):
    env = _env(tmp_path)
    env["KITH_SHUTDOWN_TIMEOUT"] = "1"
    migrate = subprocess.run(
        [KITH, "migrate", "--verbosity", "0"], capture_output=True, text=True, env=env, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
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
        [KITH, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stuck = None
    try:
        _wait_for_port(port, server)
        stuck = socket.create_connection(("127.0.0.1", port), timeout=5)
        stuck.sendall(
            b"POST /api/people HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b'Content-Length: 100000\r\n\r\n{"given_name": "Sl'
        )
        time.sleep(1.0)  # the request is now in a pool thread, reading the body
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("kith serve was still running 15 s after SIGTERM")
        # 1 s graceful timeout + 1 s grace for threads + interpreter teardown.
        assert time.monotonic() - started < 10
    finally:
        if stuck is not None:
            stuck.close()
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)


def test_the_shutdown_timeout_reaches_uvicorn(monkeypatch, db):  # db: start-up checks
    """``--shutdown-timeout`` (default ``KITH_SHUTDOWN_TIMEOUT``) is what uvicorn gets."""
    seen = {}

    def fake_run(app, **kwargs):
        seen.update(kwargs)

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(serve, "exit_if_requests_stuck", lambda: None)
    from django.core.management import call_command

    call_command("serve", "--no-worker")
    assert seen["timeout_graceful_shutdown"] == 30  # the documented default
    call_command("serve", "--no-worker", "--shutdown-timeout", "7")
    assert seen["timeout_graceful_shutdown"] == 7
    call_command("serve", "--no-worker", "--shutdown-timeout", "0")
    assert seen["timeout_graceful_shutdown"] == 1  # never 0: that would cut every request


def test_a_busy_request_thread_does_not_hold_the_exit(monkeypatch):
    """A thread still computing after the timeout (no I/O to interrupt) would be joined
    at interpreter exit; the command ends the process instead."""
    import threading

    exits = []
    monkeypatch.setattr(serve.os, "_exit", lambda code: exits.append(code))
    release = threading.Event()
    busy = threading.Thread(target=release.wait, daemon=False)
    busy.start()
    try:
        serve.exit_if_requests_stuck(grace=0.2)
        assert exits == [0]
    finally:
        release.set()
        busy.join()
    exits.clear()
    if not serve.busy_threads():  # another test's pool may still be winding down
        serve.exit_if_requests_stuck(grace=0.2)
        assert exits == []  # nothing running: a normal exit
