"""``people.access.is_visible`` (the rule for one loaded party, in Python) answers what
``scope_parties`` (the same rule as SQL) answers, for every kind of user and record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from kith.accounts import services as account_services
from kith.accounts.models import Role, Team
from kith.people import access
from kith.people.models import Party
from tests.conftest import PASSWORD, make_person

pytestmark = pytest.mark.django_db


def test_is_visible_agrees_with_the_filter_for_every_user_and_record(
    alice, mia, bob, dan, vic, carol
):
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    account_services.add_team_member(actor=alice, team=north, user=bob)
    account_services.add_team_member(actor=alice, team=north, user=vic)
    gone = account_services.create_user(
        actor=None, username="gone", password=PASSWORD, role=Role.AGENT
    )
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    records = [
        make_person(alice, given="Eve", family="Everyone"),
        make_person(alice, given="Pam", family="Private", visibility="private", owner=bob),
        make_person(alice, given="Dee", family="Private", visibility="private", owner=dan),
        make_person(alice, given="Nia", family="North", visibility="team", team=north),
        make_person(alice, given="Sol", family="South", visibility="team", team=south),
        make_person(alice, given="Tom", family="Teamless", owner=dan),
        carol.person,
    ]
    # a team record whose team was deleted (the form refuses "team" without one)
    Party.objects.filter(pk=records[5].pk).update(visibility="team", team=None)
    users = [alice, mia, bob, dan, vic, carol, gone, AnonymousUser()]
    compared = 0
    for user in users:
        visible = set(access.scope_parties(user).values_list("pk", flat=True))
        for party in records:
            party = Party.objects.get(pk=party.pk)
            assert access.is_visible(user, party) == (party.pk in visible), (user, party)
            compared += 1
    assert compared == len(users) * len(records)
    # the cases differ, or the comparison proves little
    assert access.is_visible(bob, records[3]) and not access.is_visible(dan, records[3])
    assert access.is_visible(bob, records[1]) and not access.is_visible(dan, records[1])
    assert access.is_visible(carol, carol.person) and not access.is_visible(carol, records[0])
