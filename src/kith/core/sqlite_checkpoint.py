"""SQLite WAL checkpoints in a background thread of the serving process, not in requests.

In WAL mode every commit appends pages to the write-ahead log, and by default the
connection whose commit takes the log past 1,000 pages copies the log back into the
database file (an *automatic checkpoint*) before its commit returns. A created person
writes about 56 pages, so every 18th create paid for the checkpoint of the 17 before it:
measured on the benchmark's 100,000-person database, 500 API creates one after another
in one process took 6.0 ms on average with a p95 of 19–23 ms, and 3.9–4.2 ms with a p95
of 7.5–8.0 ms once requests no longer checkpointed (``benchmarks/README.md``).

So while ``kith serve`` runs, :func:`start` runs a daemon thread that checkpoints the log
every ``KITH_SQLITE_CHECKPOINT_SECONDS`` with ``PRAGMA wal_checkpoint(PASSIVE)``, which
waits for no reader or writer, and every connection the process opens afterwards raises
its automatic threshold to ``KITH_SQLITE_CHECKPOINT_FALLBACK_PAGES``: a bound on the log,
should the thread ever fall behind, not the normal path. One checkpoint a second also
writes each page once where many small ones wrote the same index pages again and again.

Processes without the thread (``kith import``, the bulk worker, management commands,
tests, and the extra processes of ``kith serve --workers N``, whose writes the thread
checkpoints all the same) keep SQLite's default, and the last connection to close
checkpoints whatever is left, as always.
PostgreSQL needs none of this: :func:`start` does nothing there.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from urllib.request import pathname2url

from django.conf import settings
from django.db import connections

logger = logging.getLogger("kith.sqlite")

_lock = threading.Lock()
_thread: BackgroundCheckpointer | None = None


@dataclass(frozen=True)
class CheckpointResult:
    """What one ``PRAGMA wal_checkpoint`` reported."""

    busy: bool  # another checkpoint or a writer kept it from finishing
    log_pages: int  # pages in the write-ahead log (-1: not in WAL mode)
    checkpointed_pages: int  # of those, pages now copied into the database file


def is_sqlite(alias: str = "default") -> bool:
    return connections[alias].vendor == "sqlite"


def checkpoint(conn: sqlite3.Connection) -> CheckpointResult:
    """Copy what the log holds into the database file without waiting for anyone."""
    busy, log_pages, checkpointed = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return CheckpointResult(bool(busy), log_pages, checkpointed)


class BackgroundCheckpointer(threading.Thread):
    """A daemon thread with its own connection that checkpoints the log periodically."""

    def __init__(self, path: str, interval: float):
        super().__init__(name="kith-sqlite-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self.stopped = threading.Event()
        self.runs = 0

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self.stopped.wait(self.interval):
                try:
                    if conn is None:
                        # mode=rw: a checkpointer must never create a database file.
                        uri = f"file:{pathname2url(self.path)}?mode=rw"
                        conn = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None)
                    checkpoint(conn)
                    self.runs += 1
                except sqlite3.Error:
                    # A full disk or a locked file this once: the next round tries again,
                    # and the fallback threshold bounds the log meanwhile.
                    logger.warning("background WAL checkpoint failed", exc_info=True)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self.stopped.set()


def start(alias: str = "default") -> BackgroundCheckpointer | None:
    """Run the checkpoint thread in this process (once) when the database is SQLite.

    Returns the thread, or None when there is nothing to do: another database, an
    in-memory one, or ``KITH_SQLITE_CHECKPOINT_SECONDS`` set to 0 (off).
    """
    global _thread
    interval = float(settings.KITH_SQLITE_CHECKPOINT_SECONDS)
    if not is_sqlite(alias) or interval <= 0:
        return None
    if connections[alias].is_in_memory_db():
        return None
    path = str(settings.DATABASES[alias]["NAME"])
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = BackgroundCheckpointer(path, interval)
            _thread.start()
            # Connections this process already holds (the checks before serving) keep
            # checkpointing themselves; raise their threshold too.
            for conn in connections.all(initialized_only=True):
                if conn.vendor == "sqlite" and conn.connection is not None:
                    relax_automatic_checkpoints(conn.connection)
        return _thread


def running() -> bool:
    return _thread is not None and _thread.is_alive() and not _thread.stopped.is_set()


def stop() -> None:
    """Stop the thread (tests; a server's daemon thread simply ends with the process)."""
    global _thread
    with _lock:
        if _thread is not None:
            _thread.stop()
            _thread.join(timeout=5)
            _thread = None


def relax_automatic_checkpoints(raw: sqlite3.Connection) -> None:
    raw.execute(f"PRAGMA wal_autocheckpoint={int(settings.KITH_SQLITE_CHECKPOINT_FALLBACK_PAGES)}")


def on_connection_created(sender, connection, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """``connection_created``: while the thread runs, leave checkpoints to it."""
    if connection.vendor == "sqlite" and running():
        relax_automatic_checkpoints(connection.connection)
