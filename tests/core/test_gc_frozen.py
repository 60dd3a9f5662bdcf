"""Bulk work freezes the objects alive before it out of the garbage collector's reach,
and thaws them when the last concurrent user finishes."""

from __future__ import annotations

import gc

from kith.core import events


def test_nested_users_freeze_once_and_the_last_thaws() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with events.old_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with events.old_objects_frozen():
            assert gc.get_freeze_count() == frozen  # not frozen a second time
        assert gc.get_freeze_count() == frozen  # the outer user still runs
    assert gc.get_freeze_count() == 0


def test_thawed_after_an_error() -> None:
    gc.unfreeze()
    try:
        with events.old_objects_frozen():
            raise RuntimeError("a failed chunk")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
