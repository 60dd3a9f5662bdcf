"""Portal fixtures: a second customer (olga), an organisation with two contacts, media in tmp."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.people import services as people_services
from tests.conftest import PASSWORD, make_org, make_person


@pytest.fixture(autouse=True)
def tmp_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_customer(username: str, given: str, email: str, org=None) -> User:
    person = make_person(None, given=given, family="Customer", email=email)
    if org is not None:
        people_services.add_relationship(actor=None, subject=person, role="employee", object=org)
    return account_services.create_user(
        actor=None,
        username=username,
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )


@pytest.fixture
def olga(db) -> User:
    """Another customer, unrelated to carol."""
    return make_customer("olga", "Olga", "olga@example.com")


@pytest.fixture
def globex(db):
    return make_org(None, "Globex")


@pytest.fixture
def gina(globex) -> User:
    return make_customer("gina", "Gina", "gina@globex.example", org=globex)


@pytest.fixture
def gus(globex) -> User:
    return make_customer("gus", "Gus", "gus@globex.example", org=globex)
