"""IANA time-zone names, read once per process.

``zoneinfo.available_timezones()`` walks the tz database on disk at every call (a few
milliseconds); forms, imports and API writes validate against it, so it is cached.
"""

import datetime as dt
import zoneinfo
from functools import lru_cache


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """Every time-zone name this machine's tz database knows."""
    return frozenset(zoneinfo.available_timezones())


def is_valid(name: str) -> bool:
    return name in names()


def choices() -> list[str]:
    """Names sorted for a picker."""
    return sorted(names())


def zone(name: str) -> dt.tzinfo:
    """The zone called ``name``, or UTC when it is empty or unknown (display, never validation)."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def of_user(user) -> dt.tzinfo:
    """The zone a user reads times in (UTC when unset or unknown)."""
    return zone(getattr(user, "timezone", ""))
