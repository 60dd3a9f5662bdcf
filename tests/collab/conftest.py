"""Collaboration fixtures: a partner login, a customer group, helpers to deliver events."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.collab import services
from kith.collab.models import Group
from kith.core import events
from kith.people import services as people_services
from tests.conftest import PASSWORD, make_person


@pytest.fixture
def pat_person(db):
    person = make_person(None, given="Pat", family="Partner", email="pat@partner.example")
    people_services.add_relationship(actor=None, subject=person, role="partner")
    return person


@pytest.fixture
def pat(pat_person) -> User:
    """A partner: a portal login whose Person holds a current partner role."""
    return account_services.create_user(
        actor=None,
        username="pat",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=pat_person,
        email="pat@partner.example",
    )


@pytest.fixture
def customer_group(alice, bob, carol, pat) -> Group:
    """A customer group with bob (staff), carol (customer) and pat (partner) as members."""
    group = services.create_group(
        actor=alice, name="Customer council", privacy="private", kind="customer"
    )
    for user in (bob, carol, pat):
        services.invite(actor=alice, group=group, user=user)
        services.respond_invitation(actor=user, group=group, accept=True)
    return group


@pytest.fixture
def deliver():
    """Run pending domain events through their subscribers (tests do not commit)."""

    def run() -> int:
        total = 0
        while True:
            n = events.deliver_pending(limit=500)
            total += n
            if not n:
                return total

    return run
