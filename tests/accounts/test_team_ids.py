"""``User.team_ids``: one read per user object, yet never stale after a membership change
in this process, whichever side made it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.accounts import services as account_services
from kith.accounts.models import Team, User
from kith.people import access as people_access
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


def test_team_ids_are_read_once_per_user_object(alice, bob):
    team = account_services.create_team(actor=alice, name="North", members=[bob])
    with CaptureQueriesContext(connection) as queries:
        assert bob.team_ids() == {team.pk}
        assert bob.team_ids() == {team.pk}
    assert len(queries.captured_queries) == 1


def test_a_change_from_either_side_is_seen_at_once(alice, bob):
    north = account_services.create_team(actor=alice, name="North")
    assert bob.team_ids() == frozenset()
    # another object for the same login, as a second request in this process holds
    other_bob = User.objects.get(pk=bob.pk)
    assert other_bob.team_ids() == frozenset()

    account_services.add_team_member(actor=alice, team=north, user=other_bob)  # team side
    assert bob.team_ids() == {north.pk}
    south = Team.objects.create(name="South")
    other_bob.teams.add(south)  # user side, on the other object
    assert bob.team_ids() == {north.pk, south.pk}
    account_services.remove_team_member(actor=alice, team=north, user=bob)
    assert other_bob.team_ids() == {south.pk}
    south.delete()  # the membership rows go with the team, without an m2m signal
    assert bob.team_ids() == frozenset()


def test_access_follows_a_membership_granted_after_the_first_check(alice, bob):
    team = Team.objects.create(name="Key accounts")
    hidden = make_person(alice, given="Tess", family="Team", visibility="team", team=team)
    assert not people_access.scope_parties(bob).filter(pk=hidden.pk).exists()
    account_services.add_team_member(actor=alice, team=team, user=bob)
    assert people_access.scope_parties(bob).filter(pk=hidden.pk).exists()
    assert client_for(bob).get(f"/people/{hidden.public_id}/").status_code == 200


def test_a_page_reads_the_team_ids_once(alice, bob):
    account_services.create_team(actor=alice, name="North", members=[bob])
    person = make_person(alice, given="Pia", family="Page")
    client = client_for(bob)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/people/{person.public_id}/").status_code == 200
    team_reads = [
        q["sql"]
        for q in queries.captured_queries
        if "accounts_user_teams" in q["sql"]
        and '"accounts_user_teams"."user_id" =' in q["sql"]
        and "_prefetch_related_val" not in q["sql"]
    ]
    assert len(team_reads) == 1, team_reads
