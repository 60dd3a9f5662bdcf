"""Request-scoped context: which channel (web, api, cli, import, worker) a change comes from."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_channel: ContextVar[str] = ContextVar("kith_channel", default="system")


def current_channel() -> str:
    return _channel.get()


@contextlib.contextmanager
def channel(name: str) -> Iterator[None]:
    """Mark every audit entry written inside the block as coming from ``name``."""
    token = _channel.set(name)
    try:
        yield
    finally:
        _channel.reset(token)
