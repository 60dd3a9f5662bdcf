"""Warm-ups: what a worker loads once when it starts, by the share of work it takes."""

import pytest

from kith.core import worker


@pytest.fixture
def registered(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(worker, "_warm_ups", {})
    worker.warm_up("test.interactive")(lambda: calls.append("interactive"))
    worker.warm_up("test.bulk", bulk=True)(lambda: calls.append("bulk"))

    def broken():
        raise RuntimeError("model file unreadable")

    worker.warm_up("test.broken", bulk=True)(broken)
    return calls


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (worker.Role.ALL, ["interactive", "bulk"]),
        (worker.Role.INTERACTIVE, ["interactive"]),
        (worker.Role.BULK, ["bulk"]),
    ],
)
def test_each_role_runs_its_share_and_a_failure_does_not_stop_it(
    registered, role, expected, caplog
):
    ran = worker.run_warm_ups(role)

    assert registered == expected
    assert ran == [f"test.{name}" for name in expected]
    if role is not worker.Role.INTERACTIVE:
        assert "warm-up test.broken failed" in caplog.text


def test_run_forever_warms_up_before_its_first_pass(registered, monkeypatch):
    import threading

    order: list[str] = []
    stop = threading.Event()

    def first_pass(*args, **kwargs):
        order.append(f"pass after {list(registered)}")
        stop.set()

    monkeypatch.setattr(worker, "_loop_until", first_pass)
    worker.run_forever(interval=0.01, stop=stop, role=worker.Role.BULK)

    assert order == ["pass after ['bulk']"]
