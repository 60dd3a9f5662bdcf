"""Community fixtures: a partner (pat), a second customer (cyd), spaces of each audience."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.collab import services as collab_services
from kith.community import services
from kith.community.models import MemberProfile, Space
from kith.core import events
from kith.people import services as people_services
from tests.conftest import PASSWORD, make_person


def portal_user(username: str, *, role: str | None = "customer", given: str = "") -> User:
    person = make_person(None, given=given or username.title(), family="Member")
    if role:
        people_services.add_relationship(actor=None, subject=person, role=role)
    return account_services.create_user(
        actor=None,
        username=username,
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
    )


def make_trusted(user, *, level: int = 2, reputation: int = 5000) -> MemberProfile:
    """Give ``user`` standing directly (tests of privileges set it; the ledger is tested apart)."""
    profile, _ = MemberProfile.objects.get_or_create(user=user)
    profile.trust_level = level
    profile.reputation = reputation
    profile.trust_locked = True
    profile.save()
    for name in ("_community_profile",):
        if hasattr(user, name):
            delattr(user, name)
    return profile


@pytest.fixture
def carol(carol_person):
    """Carol is a customer: her Person holds the customer role."""
    people_services.add_relationship(actor=None, subject=carol_person, role="customer")
    return account_services.create_user(
        actor=None,
        username="carol",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=carol_person,
    )


@pytest.fixture
def cyd(db) -> User:
    return portal_user("cyd")


@pytest.fixture
def pat(db) -> User:
    return portal_user("pat", role="partner")


@pytest.fixture
def public_space(alice) -> Space:
    return services.create_space(actor=alice, name="Help", slug="help", audience="public")


@pytest.fixture
def customer_space(alice) -> Space:
    return services.create_space(actor=alice, name="Customers", audience="customers")


@pytest.fixture
def partner_space(alice) -> Space:
    return services.create_space(actor=alice, name="Partners", audience="partners")


@pytest.fixture
def staff_space(alice) -> Space:
    return services.create_space(actor=alice, name="Staff room", audience="staff")


@pytest.fixture
def group_space(alice, carol):
    group = collab_services.create_group(
        actor=alice, name="Beta testers", privacy="private", kind="customer"
    )
    collab_services.invite(actor=alice, group=group, user=carol)
    collab_services.respond_invitation(actor=carol, group=group, accept=True)
    return services.create_space(actor=alice, name="Beta", audience="group", group=group)


@pytest.fixture
def deliver():
    def run() -> int:
        total = 0
        while True:
            n = events.deliver_pending(limit=500)
            total += n
            if not n:
                return total

    return run
