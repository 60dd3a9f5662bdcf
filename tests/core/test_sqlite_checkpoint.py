"""SQLite's write-ahead log is checkpointed by a background thread while a server runs,
so requests do not pay for it (kith.core.sqlite_checkpoint)."""

import sqlite3
import time
from types import SimpleNamespace

import pytest

from kith.core import sqlite_checkpoint


@pytest.fixture
def wal_db(tmp_path):
    path = str(tmp_path / "kith.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table is in the file
    writer.execute("PRAGMA wal_autocheckpoint=0")  # from now only the test checkpoints
    yield path, writer
    writer.close()


def _rows_in_database_file(path: str) -> int:
    """Rows the database file itself holds: ``immutable`` reads it without the log."""
    reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return reader.execute("SELECT count(*) FROM note").fetchone()[0]
    finally:
        reader.close()


def _write(writer: sqlite3.Connection, rows: int) -> None:
    writer.execute("BEGIN IMMEDIATE")
    writer.executemany("INSERT INTO note (body) VALUES (?)", [("x" * 200,)] * rows)
    writer.execute("COMMIT")


def test_checkpoint_copies_the_log_into_the_database_file(wal_db):
    path, writer = wal_db
    _write(writer, 500)
    assert _rows_in_database_file(path) == 0  # still only in the log

    result = sqlite_checkpoint.checkpoint(sqlite3.connect(path))

    assert not result.busy
    assert result.log_pages > 0 and result.checkpointed_pages == result.log_pages
    assert _rows_in_database_file(path) == 500


def test_the_thread_checkpoints_what_writers_leave_in_the_log(wal_db):
    path, writer = wal_db
    thread = sqlite_checkpoint.BackgroundCheckpointer(path, interval=0.02)
    thread.start()
    try:
        for _ in range(3):
            _write(writer, 100)
            # Two more rounds: at least one whole checkpoint after this write.
            target, deadline = thread.runs + 2, time.monotonic() + 5
            while thread.runs < target and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        thread.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    # Read once the thread has stopped: an immutable read of a file being written fails.
    assert _rows_in_database_file(path) == 300


def test_the_thread_survives_a_failing_checkpoint(tmp_path, caplog):
    path = str(tmp_path / "not-a-database.sqlite3")
    with open(path, "wb") as f:
        f.write(b"this is not an SQLite file" * 100)
    thread = sqlite_checkpoint.BackgroundCheckpointer(path, interval=0.02)
    thread.start()
    time.sleep(0.2)
    assert thread.is_alive()
    thread.stop()
    thread.join(timeout=5)
    assert "background WAL checkpoint failed" in caplog.text
    assert thread.runs == 0


def test_the_thread_never_creates_a_database_file(tmp_path, caplog):
    path = tmp_path / "missing.sqlite3"
    thread = sqlite_checkpoint.BackgroundCheckpointer(str(path), interval=0.02)
    thread.start()
    time.sleep(0.2)
    thread.stop()
    thread.join(timeout=5)
    assert not path.exists()
    assert "background WAL checkpoint failed" in caplog.text


def _autocheckpoint(raw: sqlite3.Connection) -> int:
    return raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]


def test_connections_leave_checkpoints_to_the_thread_only_while_it_runs(wal_db, settings):
    path, _ = wal_db
    settings.KITH_SQLITE_CHECKPOINT_FALLBACK_PAGES = 12345
    before = SimpleNamespace(vendor="sqlite", connection=sqlite3.connect(path))
    sqlite_checkpoint.on_connection_created(None, before)
    assert _autocheckpoint(before.connection) == 1000  # SQLite's own default

    thread = sqlite_checkpoint.BackgroundCheckpointer(path, interval=60)
    thread.start()
    sqlite_checkpoint._thread = thread
    try:
        during = SimpleNamespace(vendor="sqlite", connection=sqlite3.connect(path))
        sqlite_checkpoint.on_connection_created(None, during)
        assert _autocheckpoint(during.connection) == 12345
        postgres = SimpleNamespace(vendor="postgresql", connection=None)
        sqlite_checkpoint.on_connection_created(None, postgres)  # ignored, no error
    finally:
        sqlite_checkpoint.stop()
    after = SimpleNamespace(vendor="sqlite", connection=sqlite3.connect(path))
    sqlite_checkpoint.on_connection_created(None, after)
    assert _autocheckpoint(after.connection) == 1000
    assert not sqlite_checkpoint.running()


@pytest.mark.django_db
def test_start_does_nothing_without_a_database_file(settings):
    # The suite's SQLite database is in memory and PostgreSQL needs no checkpoints.
    assert sqlite_checkpoint.start() is None
    assert not sqlite_checkpoint.running()


def test_start_does_nothing_when_switched_off(settings):
    settings.KITH_SQLITE_CHECKPOINT_SECONDS = 0
    assert sqlite_checkpoint.start() is None


def test_kith_serve_starts_the_checkpointer_before_serving(monkeypatch, db):  # db: checks
    import uvicorn
    from django.core.management import call_command

    from kith.core.management.commands import serve

    order = []
    monkeypatch.setattr(sqlite_checkpoint, "start", lambda: order.append("checkpointer"))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: order.append("uvicorn"))
    monkeypatch.setattr(serve, "exit_if_requests_stuck", lambda: None)

    call_command("serve", "--no-worker")

    assert order == ["checkpointer", "uvicorn"]
