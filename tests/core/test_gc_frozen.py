"""Bulk work freezes the objects alive before it out of the garbage collector's reach,
and thaws them when the last concurrent user finishes."""

from __future__ import annotations

import gc
import time

from kith.core import events


def _no_other_user() -> None:
    """Wait for bulk work another test left running in a thread of this process (an
    embedded worker finishing a delivery) to thaw: the freeze is process-wide, so its
    freeze would be taken for ours."""
    deadline = time.monotonic() + 10
    while events._frozen_users and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events._frozen_users == 0
    gc.unfreeze()


def test_nested_users_freeze_once_and_the_last_thaws() -> None:
    _no_other_user()
    assert gc.get_freeze_count() == 0
    with events.old_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with events.old_objects_frozen():
            # Not frozen a second time (frozen objects may still be freed: never more).
            assert 0 < gc.get_freeze_count() <= frozen
        assert 0 < gc.get_freeze_count() <= frozen  # the outer user still runs
    assert gc.get_freeze_count() == 0


def test_thawed_after_an_error() -> None:
    _no_other_user()
    try:
        with events.old_objects_frozen():
            raise RuntimeError("a failed chunk")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
