"""Run a CPU-bound generator in a forked child process, one item ahead of its consumer.

An import spends about a fifth of its CPU validating rows (parsing phone numbers and
e-mail addresses, dates, custom attributes), work that needs no database and no state
but the file. In one process that fifth waits for the writing of the chunk before and
holds up the next. :func:`produced_ahead` runs such a generator in a child forked for
the purpose, so the next chunk is validated on another core while this one is written.

The child:

* is forked (it inherits the validator, the settings and the file already in memory;
  starting a fresh interpreter would cost more than a small import saves), so it is
  used only on Linux, where ``fork`` is safe for what it runs;
* may not touch the database: every connection it inherited refuses to run a query,
  and the attempt ends the child, after which the parent does the rest itself;
* stays at most about one item ahead: the pipe holds little and ``send`` blocks, so
  memory is bounded whatever the file's size;
* ends when the parent stops reading, dies or is killed (its ``send`` then fails).

Whatever goes wrong in the child (an exception, death, silence for ``patience``
seconds), the parent carries on from the first item it did not receive, producing
the rest itself: the consumer sees the same items in the same order either way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.db import connections

logger = logging.getLogger("kith.core.ahead")

T = TypeVar("T")

# How long the parent waits for the next item before giving up on the child.
DEFAULT_PATIENCE_SECONDS = 120.0


class DatabaseRefused(RuntimeError):
    """A generator run ahead tried to query the database."""


def available() -> bool:
    """Whether a child can be forked here to good effect (Linux, more than one core)."""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and (os.cpu_count() or 1) > 1
    )


def produced_ahead(
    produce: Callable[[int], Iterator[T]],
    *,
    enabled: bool = True,
    patience: float = DEFAULT_PATIENCE_SECONDS,
) -> Iterator[T]:
    """The items of ``produce(0)``, made in a forked child while the caller works.

    ``produce(skip)`` must yield the same items each time it is called, leaving out the
    first ``skip``: the parent calls it to go on by itself when the child fails.
    Items cross a pipe, so they must pickle.
    """
    if not (enabled and available()):
        yield from produce(0)
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main, args=(produce, sender), name="kith-ahead", daemon=True
    )
    child.start()
    sender.close()  # the parent's copy: the child's end closing then reads as EOF
    received = 0
    try:
        while True:
            kind, payload = _next_message(receiver, child, patience)
            if kind == "item":
                received += 1
                yield payload
            elif kind == "done":
                return
            else:
                logger.warning(
                    "the child producing ahead stopped (%s); going on in this process from item %s",
                    payload,
                    received,
                )
                break
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)
    yield from produce(received)


def _next_message(receiver: Any, child: Any, patience: float) -> tuple[str, Any]:
    """The child's next message, or ``("failed", why)`` when it died or fell silent."""
    waited = 0.0
    while not receiver.poll(0.5):
        waited += 0.5
        if not child.is_alive() and not receiver.poll(0):
            return "failed", f"exit code {child.exitcode}"
        if waited >= patience:
            return "failed", f"no item in {patience:.0f} s"
    try:
        return receiver.recv()
    except (EOFError, OSError):
        child.join(timeout=1)
        return "failed", f"exit code {child.exitcode}"


def _refuse_queries(*_args: Any, **_kwargs: Any) -> Any:
    raise DatabaseRefused("a generator run ahead in a child process may not use the database")


def _child_main(produce: Callable[[int], Iterator[Any]], sender: Any) -> None:
    # The parent handles Ctrl-C and terminates this child; a second traceback from here
    # would only confuse.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with contextlib.ExitStack() as stack:
            # The inherited connections are the parent's sockets and file handles: a
            # query from here would interleave with its transaction.
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(_refuse_queries))
            for item in produce(0):
                sender.send(("item", item))
        sender.send(("done", None))
    except (BrokenPipeError, EOFError):
        pass  # the parent stopped reading: nothing to tell it
    except BaseException as exc:  # reported to the parent, which goes on
        with contextlib.suppress(Exception):
            sender.send(("failed", "".join(traceback.format_exception_only(exc)).strip()))
    finally:
        # Leave without running the parent's exit handlers or closing its connections.
        os._exit(0)
