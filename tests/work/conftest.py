"""Fixtures for kith.work tests: activity types and a few people."""

from __future__ import annotations

import pytest

from kith.work.models import ActivityType
from tests.conftest import make_person


@pytest.fixture
def call_type(db) -> ActivityType:
    return ActivityType.objects.get(slug="call")


@pytest.fixture
def todo_type(db) -> ActivityType:
    return ActivityType.objects.get(slug="todo")


@pytest.fixture
def ana(alice):
    return make_person(alice, given="Ana", family="Lima", email="ana@example.com")


@pytest.fixture
def secret_person(dan):
    """A person private to dan: bob and vic cannot see them."""
    return make_person(dan, given="Sam", family="Secret", owner=dan, visibility="private")
