"""Django's SQLite backend, with a process-wide queue for write transactions.

Kith's SQLite transactions are ``BEGIN IMMEDIATE`` (settings): each takes the database's
one write lock at its start. A thread that finds the lock taken is put to sleep by
SQLite's busy handler, which polls after 1, 2, 5, 10, 15, 20, 25 ... ms: a request that
waited for a 3 ms delivery of the worker thread slept 8 ms. Here the threads of one
process (request threads, the worker thread) first queue on a lock of this process
for the database file, taken before ``BEGIN`` and given back at ``COMMIT`` or
``ROLLBACK``, so the next one starts the moment the last one ends. Other processes
(the bulk worker, ``kith import``) still meet SQLite's lock and its busy handler.

Measured with ``benchmarks/run.py --phases creates`` on the 100,000-person database,
alternating: one client's creates 119 and 156/s delivered with the queue against 107
and 108/s without, p95 18 and 13 ms against 27 and 22 ms (``benchmarks/README.md``).

The wait is bounded like SQLite's (the connection's ``timeout`` option, else 5 s) and
ends in the same "database is locked" error. A thread must not open a second write
transaction on another connection to the same file while it holds one: that waited
for itself before too (SQLite's lock), and still does.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def write_lock(name: str) -> threading.Lock:
    """The lock of this process for the database file ``name``."""
    with _locks_guard:
        return _locks.setdefault(str(name), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self):
        lock = write_lock(self.settings_dict["NAME"])
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            write_lock(self.settings_dict["NAME"]).release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()
