"""Sign-up verification under concurrency: real threads on PostgreSQL.

One link followed twice at once makes one login; two sign-ups of one address verified
at once make one login and one clear 409, never a 500 or two Persons with one address.
"""

from __future__ import annotations

import re

import pytest

from kith.accounts import services
from kith.accounts.models import User
from kith.core.errors import Conflict
from kith.people.models import ContactPoint
from tests.concurrency import run_together
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only", "restore_migration_seed"),
]


def _token(message) -> str:
    return re.search(r"/portal/verify/([^/\s]+)/", message.body).group(1)


def _at_once(tokens: list[str]) -> tuple[list[User], list[BaseException]]:
    """Follow each verification link in its own thread, all at once."""
    return run_together(lambda token: services.verify_signup(token=token), tokens)


def test_one_link_followed_twice_at_once_makes_one_login(mailoutbox):
    services.request_signup(email="twice@example.com", password=PASSWORD, ip="1.1.1.1")
    token = _token(mailoutbox[0])
    made, errors = _at_once([token, token])
    assert len(made) == 1
    assert [type(e) for e in errors] == [Conflict]
    assert User.objects.filter(email="twice@example.com").count() == 1
    assert ContactPoint.objects.filter(normalized="twice@example.com").count() == 1


def test_two_signups_of_one_address_verified_at_once(mailoutbox):
    services.request_signup(email="race@example.com", password=PASSWORD, ip="1.1.1.1")
    services.request_signup(email="race@example.com", password=PASSWORD, ip="2.2.2.2")
    tokens = [_token(m) for m in mailoutbox]
    assert len(set(tokens)) == 2
    made, errors = _at_once(tokens)
    assert len(made) == 1
    assert [type(e) for e in errors] == [Conflict]
    assert User.objects.filter(email="race@example.com").count() == 1
    assert ContactPoint.objects.filter(normalized="race@example.com").count() == 1
