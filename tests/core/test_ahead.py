"""kith.core.ahead: a generator run in a forked child, one item ahead, with the parent
going on by itself whatever the child does."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from kith.core import ahead
from kith.people.models import Party

pytestmark = pytest.mark.skipif(not ahead.available(), reason="needs Linux fork and 2 cores")


def _numbers(count: int, *, fail_in_child_at: int | None = None, parent: int | None = None):
    """``produce`` for ``count`` items ``(n, pid)``; raises in a child at one item."""

    def produce(skip: int) -> Iterator[tuple[int, int]]:
        for n in range(skip, count):
            if fail_in_child_at == n and os.getpid() != parent:
                raise ValueError(f"item {n} cannot be made here")
            yield n, os.getpid()

    return produce


def test_items_come_in_order_from_another_process():
    items = list(ahead.produced_ahead(_numbers(50)))
    assert [n for n, _pid in items] == list(range(50))
    assert {pid for _n, pid in items} - {os.getpid()}, "made in this process: no child ran"
    assert os.getpid() not in {pid for _n, pid in items}


def test_disabled_makes_every_item_here():
    items = list(ahead.produced_ahead(_numbers(5), enabled=False))
    assert items == [(n, os.getpid()) for n in range(5)]


def test_a_child_that_fails_midway_is_taken_over_from_the_first_missing_item(caplog):
    produce = _numbers(10, fail_in_child_at=4, parent=os.getpid())
    with caplog.at_level(logging.WARNING, logger="kith.core.ahead"):
        items = list(ahead.produced_ahead(produce))
    assert [n for n, _pid in items] == list(range(10))
    child_made = [n for n, pid in items if pid != os.getpid()]
    here = [n for n, pid in items if pid == os.getpid()]
    assert child_made == [0, 1, 2, 3]
    assert here == list(range(4, 10))
    assert "cannot be made here" in caplog.text


def test_a_child_that_dies_is_taken_over(caplog):
    parent = os.getpid()

    def produce(skip: int) -> Iterator[int]:
        for n in range(skip, 6):
            if n == 2 and os.getpid() != parent:
                os._exit(3)  # as if killed: no message at all
            yield n

    with caplog.at_level(logging.WARNING, logger="kith.core.ahead"):
        assert list(ahead.produced_ahead(produce)) == list(range(6))
    assert "exit code 3" in caplog.text


def test_a_silent_child_is_given_up_after_its_patience(caplog):
    parent = os.getpid()

    def produce(skip: int) -> Iterator[int]:
        for n in range(skip, 3):
            if n == 1 and os.getpid() != parent:
                import time

                time.sleep(60)
            yield n

    with caplog.at_level(logging.WARNING, logger="kith.core.ahead"):
        assert list(ahead.produced_ahead(produce, patience=1.0)) == [0, 1, 2]
    assert "no item in 1 s" in caplog.text


@pytest.mark.django_db
def test_the_child_may_not_query_the_database_and_the_parent_still_can(caplog):
    parent = os.getpid()

    def produce(skip: int) -> Iterator[int]:
        for n in range(skip, 4):
            if n == 1:
                # Refused in the child; allowed once the parent takes over.
                Party.objects.count()
            yield n

    with caplog.at_level(logging.WARNING, logger="kith.core.ahead"):
        assert list(ahead.produced_ahead(produce)) == [0, 1, 2, 3]
    assert "DatabaseRefused" in caplog.text
    assert os.getpid() == parent
    assert Party.objects.count() >= 0  # the parent's connection is intact


def test_closing_the_consumer_early_ends_the_child():
    items = ahead.produced_ahead(_numbers(10_000))
    first = next(items)
    assert first[0] == 0
    frame_locals = items.gi_frame.f_locals
    child = frame_locals["child"]
    items.close()
    assert not child.is_alive()
