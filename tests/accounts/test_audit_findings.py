"""Defects found in an audit of kith.accounts: each test failed before its fix."""

from __future__ import annotations

import pytest

from kith.accounts import login_throttle
from kith.core.errors import Throttled


class _Interleaving:
    """The shared cache, with another request's failed login run between this request's
    first cache operation and the rest of it (as two concurrent requests would)."""

    def __init__(self, cache, other):
        self._cache = cache
        self._other = other
        self._done = False

    def __getattr__(self, name):
        real = getattr(self._cache, name)
        if name not in ("get", "get_many", "incr", "add", "set") or self._done:
            return real

        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if not self._done:
                self._done = True
                self._other()
            return result

        return call


def test_concurrent_failed_logins_are_all_counted(settings, monkeypatch):
    settings.KITH_LOGIN_MAX_FAILURES = 2
    settings.KITH_LOGIN_BACKOFF_SECONDS = 30
    settings.KITH_LOGIN_MAX_WAIT_SECONDS = 600
    real_cache = login_throttle.cache
    interleaving = _Interleaving(
        real_cache, lambda: login_throttle.record_failure("alice", "203.0.113.9")
    )
    monkeypatch.setattr(login_throttle, "cache", interleaving)
    login_throttle.record_failure("alice", "203.0.113.9")
    monkeypatch.setattr(login_throttle, "cache", real_cache)
    # Two failures were made, and the second of KITH_LOGIN_MAX_FAILURES = 2 makes the
    # address wait; a lost update counted only one of them.
    with pytest.raises(Throttled):
        login_throttle.check("alice", "203.0.113.9")
