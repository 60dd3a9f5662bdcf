"""Login throttling: failures slow the failing address down (with the wait shown), never
lock the account for everyone, and X-Forwarded-For counts only from a trusted proxy."""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client

from kith.accounts import login_throttle, services
from kith.core.errors import Throttled, ValidationFailed
from tests.conftest import PASSWORD


def _fail(rf, username: str, ip: str, times: int) -> None:
    for _ in range(times):
        with contextlib.suppress(ValidationFailed, Throttled):
            services.login_with_password(rf.post("/login/"), username=username, password="x", ip=ip)


def test_an_attacker_cannot_lock_the_real_user_out(rf, alice, settings):
    # Many failures from many addresses: the old account-wide lock closed the account
    # for everyone after 4 × KITH_LOGIN_MAX_FAILURES of them.
    for n in range(10):
        _fail(rf, "alice", f"203.0.113.{n}", settings.KITH_LOGIN_MAX_FAILURES * 3)
    user = services.login_with_password(
        rf.post("/login/"), username="alice", password=PASSWORD, ip="198.51.100.7"
    )
    assert user == alice


def test_the_failing_address_waits_longer_and_longer_and_is_told_how_long(rf, bob, settings):
    free = settings.KITH_LOGIN_MAX_FAILURES
    settings.KITH_LOGIN_BACKOFF_SECONDS = 30
    settings.KITH_LOGIN_MAX_WAIT_SECONDS = 80
    clock = [1_000_000.0]
    with mock.patch.object(login_throttle.time, "time", side_effect=lambda: clock[0]):
        _fail(rf, "bob", "10.0.0.1", free)
        with pytest.raises(Throttled, match="Try again in 30 seconds"):
            services.login_with_password(
                rf.post("/login/"), username="bob", password=PASSWORD, ip="10.0.0.1"
            )
        clock[0] += 31
        _fail(rf, "bob", "10.0.0.1", 1)  # one more failure after waiting: the wait doubles
        with pytest.raises(Throttled, match="Try again in 60 seconds"):
            login_throttle.check("bob", "10.0.0.1")
        clock[0] += 61
        _fail(rf, "bob", "10.0.0.1", 1)
        with pytest.raises(Throttled, match="Try again in 80 seconds"):  # capped
            login_throttle.check("bob", "10.0.0.1")
        clock[0] += 81
        # After the wait the right password works and clears the count.
        user = services.login_with_password(
            rf.post("/login/"), username="bob", password=PASSWORD, ip="10.0.0.1"
        )
        assert user == bob
        _fail(rf, "bob", "10.0.0.1", free - 1)
        login_throttle.check("bob", "10.0.0.1")  # free failures again


def test_one_address_cannot_spray_every_account(rf, bob, settings):
    free = settings.KITH_LOGIN_MAX_FAILURES
    for n in range(login_throttle.ADDRESS_FACTOR):
        _fail(rf, f"user{n}", "10.9.9.9", free)
    with pytest.raises(Throttled):
        services.login_with_password(
            rf.post("/login/"), username="bob", password=PASSWORD, ip="10.9.9.9"
        )
    assert services.login_with_password(
        rf.post("/login/"), username="bob", password=PASSWORD, ip="10.9.9.10"
    )


def test_web_form_shows_the_wait_and_forwarded_for_is_ignored_by_default(alice, settings):
    client = Client()
    for n in range(settings.KITH_LOGIN_MAX_FAILURES):
        # A new X-Forwarded-For each time: without a trusted proxy it changes nothing.
        client.post(
            "/login/",
            {"username": "alice", "password": "nope"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        )
    response = client.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.200"},
    )
    assert response.status_code == 429
    assert b"Try again in 30 seconds" in response.content
    # The same user from another machine is let in.
    other = Client(REMOTE_ADDR="127.0.0.9")
    assert other.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_forwarded_for_counts_from_a_trusted_proxy(alice, settings):
    settings.KITH_TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's REMOTE_ADDR
    proxy = Client()
    for _ in range(settings.KITH_LOGIN_MAX_FAILURES):
        proxy.post(
            "/login/",
            {"username": "alice", "password": "nope"},
            headers={"X-Forwarded-For": "192.0.2.66"},
        )
    blocked = proxy.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.66"},
    )
    assert blocked.status_code == 429
    # Another client behind the same proxy is somebody else.
    other = proxy.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.67"},
    )
    assert other.status_code == 302


def test_serve_turns_uvicorns_own_proxy_headers_off(monkeypatch, db):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(
        "kith.core.management.commands.serve.exit_if_requests_stuck", lambda: None, raising=False
    )
    call_command("serve", "--no-worker")
    assert seen["proxy_headers"] is False
