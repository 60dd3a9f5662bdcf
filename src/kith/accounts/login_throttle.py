"""Login throttling that slows guessing without letting anyone lock a real user out.

A hard lock per account (the old "N failures and the account is closed for 15 minutes
for everyone") hands a denial of service to anyone who knows a user name, an admin's
included. Here failures only ever slow down the *address they come from*:

* per (account, client address): ``KITH_LOGIN_MAX_FAILURES`` failures are free; each
  further one makes that address wait before its next try, doubling from
  ``KITH_LOGIN_BACKOFF_SECONDS`` up to ``KITH_LOGIN_MAX_WAIT_SECONDS``. The form says how
  long. The same user on another address (their office, their phone) is not affected.
* per client address, whatever the account: ten times as many free failures, then the
  same back-off, so one address cannot spray passwords over every account.

Failures are forgotten a day after the last one, and a success clears the (account,
address) count. The client address is ``REMOTE_ADDR``, which ``X-Forwarded-For`` can
change only through a proxy listed in ``KITH_TRUSTED_PROXIES`` (``kith.core.proxies``).
Guessing one account from very many addresses is slowed per address; it is logged
(``kith.accounts.login``) so an operator sees it, and strong passwords (the validators
in settings) are what stop it.

State lives in the shared cache (database or Redis), so every process sees it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from kith.core.errors import Throttled

logger = logging.getLogger("kith.accounts.login")

FORGET_SECONDS = 24 * 3600
ADDRESS_FACTOR = 10  # free failures per address (all accounts) = this × per account
ACCOUNT_ALERT_EVERY = 50  # log when an account collects this many failures (all addresses)


def _digest(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


def _keys(username: str, ip: str) -> tuple[str, str, str]:
    digest = _digest(username)
    return (
        f"kith:login:pair2:{digest}:{ip}",
        f"kith:login:ip2:{ip}",
        f"kith:login:account:{digest}",
    )


def _count(key: str) -> int:
    """Add one to the counter ``key`` and answer the new count.

    An increment, not a read and a write: two failures at once must count two (a read
    of the old count by both loses one, and lets parallel guesses go unslowed)."""
    try:
        return cache.incr(key)
    except ValueError:
        if cache.add(key, 1, timeout=FORGET_SECONDS):
            return 1
        return cache.incr(key)


def _wait_after(failures: int, free: int) -> float:
    """Seconds to wait after ``failures`` failures when ``free`` cost nothing."""
    if failures < free:
        return 0.0
    base = settings.KITH_LOGIN_BACKOFF_SECONDS
    exponent = min(failures - free, 30)  # bounded: 2**30 × base is past any cap
    return float(min(base * 2**exponent, settings.KITH_LOGIN_MAX_WAIT_SECONDS))


def _message(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        span = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = math.ceil(seconds / 60)
        span = f"{minutes} minutes"
    return f"Too many failed logins from your address. Try again in {span}."


def check(username: str, ip: str) -> None:
    """Raise ``Throttled`` (with the wait in its message) while this address must wait."""
    now = time.time()
    pair_key, ip_key, _ = _keys(username, ip)
    free = settings.KITH_LOGIN_MAX_FAILURES
    state = cache.get_many([pair_key, f"{pair_key}:at", ip_key, f"{ip_key}:at"])
    wait = 0.0
    for key, free_failures in ((pair_key, free), (ip_key, free * ADDRESS_FACTOR)):
        failures = state.get(key) or 0
        last = state.get(f"{key}:at") or 0
        wait = max(wait, last + _wait_after(failures, free_failures) - now)
    if wait > 0:
        raise Throttled(_message(wait))


def record_failure(username: str, ip: str) -> None:
    """Count a failed login for (account, address) and for the address."""
    now = time.time()
    pair_key, ip_key, account_key = _keys(username, ip)
    for key in (pair_key, ip_key):
        _count(key)
        # Refresh how long the count is kept (a day after the latest failure).
        cache.touch(key, FORGET_SECONDS)
        cache.set(f"{key}:at", now, timeout=FORGET_SECONDS)
    total = _count(account_key)
    if total % ACCOUNT_ALERT_EVERY == 0:
        logger.warning(
            "%s failed logins in a day for account %r (latest from %s): someone may be "
            "guessing its password",
            total,
            username[:150],
            ip,
        )


def record_success(username: str, ip: str) -> None:
    pair_key, _, _ = _keys(username, ip)
    cache.delete_many([pair_key, f"{pair_key}:at"])
