"""Audit findings in kith.collab: stale read-modify-writes, an open redirect and the
mention autocomplete naming customers the author may not see.

The membership tests replay an interleaving of two requests deterministically: the
service reads the membership, then (inside the patched read) the other request's
change commits, and the service goes on from what it read.
"""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.collab import access, services
from kith.collab.models import Follow, Group, Membership
from kith.core.errors import KithError
from tests.conftest import PASSWORD, client_for, make_person


def _after_read(monkeypatch, change):
    """Make ``access.membership`` run ``change`` once, right after its first read."""
    original = access.membership
    state = {"done": False}

    def read_then_change(user, group):
        row = original(user, group)
        if not state["done"]:
            state["done"] = True
            change()
        return row

    monkeypatch.setattr(access, "membership", read_then_change)


# ---------------------------------------------------------------- follows and groups


def test_update_follow_from_a_stale_row_keeps_the_other_change(alice, bob):
    group = services.create_group(actor=alice, name="Makers")
    row, _ = services.follow(actor=bob, target=group)
    first = Follow.objects.get(pk=row.pk)
    second = Follow.objects.get(pk=row.pk)  # a second request's copy, read at once
    services.update_follow(actor=bob, follow_row=first, muted=True)
    services.update_follow(actor=bob, follow_row=second, event_types=["post"])
    row.refresh_from_db()
    assert row.event_types == ["post"]
    assert row.muted is True


def test_update_group_from_a_stale_row_keeps_the_other_change(alice):
    group = services.create_group(actor=alice, name="Makers")
    first = Group.objects.get(pk=group.pk)
    second = Group.objects.get(pk=group.pk)
    services.update_group(actor=alice, group=first, name="Builders")
    services.update_group(actor=alice, group=second, description="We build things")
    group.refresh_from_db()
    assert group.description == "We build things"
    assert group.name == "Builders"


def test_role_change_of_a_member_removed_meanwhile_is_404_not_500(monkeypatch, alice, bob):
    group = services.create_group(actor=alice, name="Makers", privacy="private")
    services.invite(actor=alice, group=group, user=bob)
    services.respond_invitation(actor=bob, group=group, accept=True)
    # Another admin removes bob while alice's role change is under way.
    _after_read(monkeypatch, lambda: Membership.objects.filter(group=group, user=bob).delete())
    with pytest.raises(KithError) as caught:
        services.set_member_role(actor=alice, group=group, user=bob, role="admin")
    assert caught.value.status == 404
    assert not Membership.objects.filter(group=group, user=bob).exists()


def test_accepting_an_invitation_revoked_meanwhile_does_not_make_a_member(monkeypatch, alice, bob):
    group = services.create_group(actor=alice, name="Board", privacy="private")
    services.invite(actor=alice, group=group, user=bob)
    # The admin removes the invitation while bob's accept is under way.
    _after_read(monkeypatch, lambda: Membership.objects.filter(group=group, user=bob).delete())
    with pytest.raises(KithError):
        services.respond_invitation(actor=bob, group=group, accept=True)
    assert not Membership.objects.filter(group=group, user=bob).exists()


def test_invitation_racing_a_join_does_not_demote_the_new_member(monkeypatch, alice, bob):
    group = services.create_group(actor=alice, name="Open house", privacy="public")
    # bob joins the public group while alice's invitation of him is under way.
    _after_read(
        monkeypatch,
        lambda: Membership.objects.create(group=group, user=bob, status=Membership.Status.ACTIVE),
    )
    with pytest.raises(KithError):
        services.invite(actor=alice, group=group, user=bob)
    row = Membership.objects.get(group=group, user=bob)
    assert row.status == Membership.Status.ACTIVE


# ---------------------------------------------------------------- web views


def test_back_redirect_keeps_a_local_path(alice):
    group = services.create_group(actor=alice, name="Makers")
    response = client_for(alice).post(
        f"/collab/follow/group/{group.public_id}/",
        {"action": "mute", "next": "/collab/groups/"},
    )
    assert response["Location"] == "/collab/groups/"


def test_mention_suggestions_do_not_name_customers_of_invisible_people(alice, bob, dan):
    hidden = make_person(dan, given="Xena", family="Hidden", owner=dan, visibility="private")
    account_services.create_user(
        actor=None,
        username="xena.hidden@example.com",
        email="xena.hidden@example.com",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=hidden,
    )
    response = client_for(bob).get("/collab/suggest/", {"q": "xena"})
    assert response.status_code == 200
    assert "xena.hidden@example.com" not in response.content.decode()
    # dan may see Xena, so he may mention her login.
    response = client_for(dan).get("/collab/suggest/", {"q": "xena"})
    assert "xena.hidden@example.com" in response.content.decode()
