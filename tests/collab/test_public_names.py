"""A portal member's username is their e-mail address (sign-up makes it so): other
customers must never read it from a byline, a member list or a feed, while staff,
who invite and manage members by username, still see it."""

from __future__ import annotations

import pytest

from kith.accounts.models import User
from kith.collab import services as collab_services
from tests.conftest import client_for, signed_up_customer


def _signed_up(email: str, *, first: str = "", last: str = "") -> User:
    user = signed_up_customer(email)
    if first or last:
        User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
        user.refresh_from_db()
    return user


@pytest.fixture
def erin(db) -> User:
    return _signed_up("erin@example.com")


@pytest.fixture
def club(alice, carol, erin):
    group = collab_services.create_group(
        actor=alice, name="Power users", privacy="private", kind="customer"
    )
    for member in (carol, erin):
        collab_services.invite(actor=alice, group=group, user=member)
        collab_services.respond_invitation(actor=member, group=group, accept=True)
    collab_services.create_post(actor=erin, target=group, body="Hello from a member")
    return group


def test_public_name_is_the_name_else_a_username_that_is_no_address(db, alice, carol):
    assert _signed_up("x@example.com", first="Xia", last="Wu").public_name == "Xia Wu"
    assert _signed_up("y@example.com").public_name == "Member"
    carol_user = User.objects.get(pk=carol.pk)
    User.objects.filter(pk=carol.pk).update(first_name="", last_name="")
    carol_user.refresh_from_db()
    assert carol_user.public_name == "carol"


def test_username_shown_to_staff_only_when_it_is_an_address(erin, alice, carol):
    assert erin.username_shown_to(alice) == "erin@example.com"
    assert erin.username_shown_to(carol) is None
    assert erin.username_shown_to(None) is None
    assert carol.username_shown_to(None) == "carol"


def test_the_portal_group_page_does_not_show_a_members_address(carol, club):
    page = client_for(carol).get(f"/portal/groups/{club.public_id}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Hello from a member" in body
    assert "erin@example.com" not in body


def test_the_collab_api_hides_a_members_address_from_customers_not_staff(
    api_as, alice, carol, club
):
    members = api_as(carol).get(f"/api/groups/{club.public_id}/members")
    assert members.status_code == 200, members.content
    assert "erin@example.com" not in members.content.decode()
    named = {m["user"]["name"] for m in members.json()["items"]}
    assert "Member" in named
    feed = api_as(carol).get(f"/api/feeds/group/{club.public_id}")
    assert feed.status_code == 200, feed.content
    assert "Hello from a member" in feed.content.decode()
    assert "erin@example.com" not in feed.content.decode()
    staff = api_as(alice).get(f"/api/groups/{club.public_id}/members")
    assert "erin@example.com" in {m["user"]["username"] for m in staff.json()["items"]}
