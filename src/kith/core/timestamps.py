"""Reading dates PostgreSQL holds but Python cannot: poisoned rows must not break lists.

PostgreSQL stores years up to 294276, Python's ``datetime`` stops at 9999. Before Kith
bounded its input (``kith.core.inputs``), ``9999-12-31T23:59:59-05:00`` was stored as
year 10000; psycopg then raised ``DataError`` on every query that read that row, and every
list and timeline holding it answered 500. These loaders read such a value as the
nearest date Python and every time zone can show (``LATEST`` or ``EARLIEST``) instead, and
log it once per value so an operator can repair the row.

Installed on each new PostgreSQL connection (``install`` is connected to
``connection_created`` by ``kith.core.apps``); SQLite never stores such values, because
the write itself fails there.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

logger = logging.getLogger("kith.timestamps")

# A day inside Python's range in every time zone (UTC-12 to UTC+14), so converting to a
# user's local time cannot overflow either.
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
_seen: set[bytes] = set()


def _clamped(data: Any, latest: Any, earliest: Any) -> Any:
    raw = bytes(data)
    if raw not in _seen and len(_seen) < 1000:
        _seen.add(raw)
        logger.warning(
            "a stored date is outside what Python can read (%s); shown as %s",
            raw.decode(errors="replace"),
            "the latest" if not raw.endswith(b"BC") else "the earliest",
        )
    return earliest if raw.endswith(b"BC") else latest


@functools.cache
def _loaders(timezone: Any) -> tuple[type, type]:
    """The tolerant loader classes for one time zone, built once per process (the pool
    hands out connections per request, and ``install`` runs on each)."""
    import psycopg
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
    from psycopg.types.datetime import DateLoader

    class TolerantTzLoader(BaseTzLoader):
        def load(self, data: Any) -> dt.datetime:
            try:
                return super().load(data)
            except psycopg.DataError:
                return _clamped(data, LATEST, EARLIEST).astimezone(self.timezone or dt.UTC)

    # Django compares this attribute to decide whether a cursor needs its own loader.
    TolerantTzLoader.timezone = timezone

    class TolerantDateLoader(DateLoader):
        def load(self, data: Any) -> dt.date:
            try:
                return super().load(data)
            except psycopg.DataError:
                return _clamped(data, LATEST.date(), EARLIEST.date())

    return TolerantTzLoader, TolerantDateLoader


def install(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """Register the tolerant loaders on a new PostgreSQL connection (a signal receiver)."""
    if connection is None or connection.vendor != "postgresql":
        return
    tz_loader, date_loader = _loaders(connection.timezone)
    adapters = connection.connection.adapters
    adapters.register_loader("timestamptz", tz_loader)
    adapters.register_loader("date", date_loader)
