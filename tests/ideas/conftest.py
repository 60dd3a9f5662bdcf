"""Idea fixtures: a second customer (cyd), a category, an idea carol proposed."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.ideas import services
from kith.ideas.models import Category, Idea
from tests.conftest import PASSWORD, make_person


def portal_user(username: str) -> User:
    person = make_person(None, given=username.title(), family="Customer")
    return account_services.create_user(
        actor=None,
        username=username,
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )


@pytest.fixture
def cyd(db) -> User:
    return portal_user("cyd")


@pytest.fixture
def category(alice) -> Category:
    return services.create_category(actor=alice, name="Reporting")


@pytest.fixture
def idea(carol, category) -> Idea:
    return services.create_idea(
        actor=carol, title="Export to PDF", body="Let me export **reports**.", category=category
    )
