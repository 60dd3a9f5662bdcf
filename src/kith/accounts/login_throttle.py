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
        f"kith:login:pair:{digest}:{ip}",
        f"kith:login:ip:{ip}",
        f"kith:login:account:{digest}",
    )


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
    waits = [
        (state or {}).get("until", 0) - now for state in cache.get_many([pair_key, ip_key]).values()
    ]
    wait = max(waits, default=0)
    if wait > 0:
        raise Throttled(_message(wait))


def record_failure(username: str, ip: str) -> None:
    """Count a failed login for (account, address) and for the address."""
    now = time.time()
    pair_key, ip_key, account_key = _keys(username, ip)
    free = settings.KITH_LOGIN_MAX_FAILURES
    for key, free_failures in ((pair_key, free), (ip_key, free * ADDRESS_FACTOR)):
        state = cache.get(key) or {"failures": 0, "until": 0}
        state["failures"] += 1
        state["until"] = now + _wait_after(state["failures"], free_failures)
        cache.set(key, state, timeout=FORGET_SECONDS)
    try:
        total = cache.incr(account_key)
    except ValueError:
        cache.set(account_key, 1, timeout=FORGET_SECONDS)
        total = 1
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
    cache.delete(pair_key)
