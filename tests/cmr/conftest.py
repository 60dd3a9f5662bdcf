"""Fixtures for kith.cmr: a private data folder for the receipt key, a second customer."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr import receipts
from tests.conftest import PASSWORD, make_person


@pytest.fixture(autouse=True)
def _key_dir(settings, tmp_path):
    """Each test signs with a key made in its own data folder (made on first use)."""
    settings.DATA_DIR = tmp_path
    receipts._cache.clear()
    yield
    receipts._cache.clear()


@pytest.fixture
def dora(db) -> User:
    """A second customer, to check customers cannot reach each other's records."""
    person = make_person(None, given="Dora", family="Other", email="dora@example.com")
    return account_services.create_user(
        actor=None,
        username="dora",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )
