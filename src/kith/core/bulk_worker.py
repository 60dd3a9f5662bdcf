"""``kith serve``'s bulk worker: a child process that runs the bulk task queue and the
bulk periodic jobs (identity scoring of new people, the daily search reindex).

Why a process: the embedded worker is a thread of the server, so an import or a model
fit (``worker.BULK_QUEUE``: long, CPU-bound, Python) held the server's one interpreter
lock for its whole length. The server's requests and the delivery of the events the
import wrote (which its throughput waits on) took turns with it on one core while the
machine's other cores idled. In a process of its own the bulk task runs on another
core; the server's thread keeps events, periodic jobs and the short tasks, which
publish live updates through the in-process broker and so must stay in the server.

The two processes signal each other through the child's standard streams, so neither
waits for its poll period:

* the server writes a byte to the child's stdin when it enqueues a bulk task (after
  the commit), and the child's loop wakes;
* the child writes a byte to its stdout when its task emitted an event, and the
  server's worker thread wakes to deliver it (``events.arrived``).

The child ends when its stdin closes (the server is gone, even after ``kill -9``) once
its current task is done, or at once on ``stop()``. When it dies the supervisor starts
another after a growing pause (1 s, doubling to a minute). An import it was running is
marked stale and can be resumed, as when a whole server dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from django.db import transaction

from kith.core import events, worker

logger = logging.getLogger("kith.bulk_worker")

# A child that ran this long before dying was healthy: the next pause starts from 1 s.
HEALTHY_SECONDS = 60.0
MAX_RESTART_PAUSE = 60.0


def child_command() -> list[str]:
    """``kith worker --role bulk --supervised`` with this interpreter."""
    return [
        sys.executable,
        "-c",
        "from kith.cli import main; main()",
        "worker",
        "--role",
        worker.Role.BULK.value,
        "--supervised",
    ]


_started: BulkWorkerProcess | None = None


def status() -> dict[str, int | bool | None] | None:
    """This server's bulk worker (pid, alive, how many times started), None without one."""
    process = _started
    if process is None or process._stopping.is_set():
        return None
    return {"pid": process.pid, "alive": process.pid is not None, "starts": process.starts}


class BulkWorkerProcess:
    """Start, supervise, wake and stop the bulk worker child process."""

    def __init__(self, command: Sequence[str] | None = None, *, first_pause: float = 1.0):
        self.command = list(command or child_command())
        self.first_pause = first_pause
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.starts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the child and the thread that restarts it when it dies."""
        global _started
        self._spawn()
        _started = self
        threading.Thread(target=self._supervise, daemon=True, name="kith-bulk-supervisor").start()
        from django_tasks.signals import task_enqueued

        task_enqueued.connect(self._on_task_enqueued, dispatch_uid="kith.bulk_worker")

    def _spawn(self) -> subprocess.Popen:
        with self._lock:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and command)
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                # Out of the terminal's process group: Ctrl+C stops the server, which
                # then stops the child (stop()), rather than both racing to exit.
                start_new_session=True,
            )
            self._process = process
            self.starts += 1
        threading.Thread(
            target=self._forward_events, args=(process,), daemon=True, name="kith-bulk-events"
        ).start()
        logger.info("bulk worker started (pid %d)", process.pid)
        return process

    def _forward_events(self, process: subprocess.Popen) -> None:
        """Each byte from the child: an event of its awaits delivery here."""
        stream = process.stdout
        while stream is not None and stream.read(4096):
            events.arrived().set()

    def _supervise(self) -> None:
        pause = self.first_pause
        while not self._stopping.is_set():
            process = self._process
            started = time.monotonic()
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_SECONDS:
                pause = self.first_pause
            logger.warning(
                "bulk worker (pid %d) ended with status %s; starting another in %.0f s",
                process.pid,
                code,
                pause,
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, MAX_RESTART_PAUSE)
            self._spawn()

    def _on_task_enqueued(self, sender=None, task_result=None, **kwargs) -> None:
        task = getattr(task_result, "task", None)
        if getattr(task, "queue_name", None) == worker.BULK_QUEUE:
            # After the commit: woken before it, the child would find no task yet.
            transaction.on_commit(self.wake)

    def wake(self) -> None:
        """Tell the child that a bulk task waits."""
        with self._lock:
            process = self._process
            if process is None or process.stdin is None:
                return
            # When it died, the supervisor starts another, which polls at once.
            with contextlib.suppress(OSError, ValueError):
                process.stdin.write(b"w")

    def stop(self, timeout: float = 10.0) -> None:
        """End the child now (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        self._stopping.set()
        from django_tasks.signals import task_enqueued

        task_enqueued.disconnect(dispatch_uid="kith.bulk_worker")
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_supervised(*, interval: float) -> None:
    """The child's side: run the bulk share until stdin closes or SIGTERM arrives."""
    from django.conf import settings

    # Every event emitted here is delivered by the server's worker, inline subscribers
    # included: some publish live updates, which reach only the server's own broker.
    settings.KITH_DELIVER_EVENTS_ON_COMMIT = False
    stop = threading.Event()
    # SIGTERM from stop(): end now, like Ctrl+C (an open transaction rolls back).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=_read_wakes, args=(stop,), daemon=True, name="kith-wakes").start()
    threading.Thread(target=_write_events, daemon=True, name="kith-event-signal").start()
    worker.run_forever(interval=interval, stop=stop, role=worker.Role.BULK)


def _read_wakes(stop: threading.Event) -> None:
    """Bytes on stdin wake the loop; end of file (the server is gone) stops it."""
    while os.read(sys.stdin.fileno(), 4096):
        worker.wake_for_tasks()
    stop.set()
    worker.wake_for_tasks()  # out of its idle wait, to see ``stop``


def _write_events() -> None:
    """Forward this process's ``events.arrived`` to the server, a byte a signal."""
    out = sys.stdout.fileno()
    signalled = events.arrived()
    while True:
        signalled.wait()
        signalled.clear()
        try:
            os.write(out, b"e")
        except OSError:
            return
