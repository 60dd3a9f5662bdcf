"""IANA time-zone names, read once per process, and the one way to check or read them.

``zoneinfo.available_timezones()`` walks the tz database on disk at every call (a few
milliseconds); forms, imports and API writes validate against it, so it is cached.

``zoneinfo.ZoneInfo(name)`` is no validator: for a folder of the tz database ("Etc",
"America") it raises IsADirectoryError, for a very long name another OSError, and it
accepts files that are no zone names ("posixrules", "right/UTC"). So user input is
checked with :func:`is_valid` (or :func:`require_valid`) against the database's list of
names, and stored names are read with :func:`zone`, which never raises. Nothing else in
``kith`` calls ``ZoneInfo`` (tests/core/test_timezone_names.py checks that).
"""

import datetime as dt
import zoneinfo
from functools import lru_cache

from kith.core.errors import ValidationFailed

UNKNOWN_MESSAGE = "Unknown time zone; use a name such as Europe/Berlin."


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """Every time-zone name this machine's tz database knows."""
    return frozenset(zoneinfo.available_timezones())


def is_valid(name) -> bool:
    """True when ``name`` is a zone name of the tz database (Europe/Lisbon, UTC)."""
    return isinstance(name, str) and name in names()


def require_valid(name, field: str = "timezone", message: str = UNKNOWN_MESSAGE) -> str:
    """``name`` without surrounding blanks, or a ValidationFailed on ``field``."""
    text = name.strip() if isinstance(name, str) else ""
    if not is_valid(text):
        raise ValidationFailed.single(field, message)
    return text


def choices() -> list[str]:
    """Names sorted for a picker."""
    return sorted(names())


def zone(name) -> dt.tzinfo:
    """The zone called ``name``, or UTC when it is empty or unknown (display, never validation).

    Never raises: a stored name may predate the check or come from elsewhere."""
    name = name or "UTC"
    if not is_valid(name):
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: the name's file went away or is a folder since names() was read.
        return dt.UTC


def of_user(user) -> dt.tzinfo:
    """The zone a user reads times in (UTC when unset or unknown)."""
    return zone(getattr(user, "timezone", ""))
