"""The shortcuts taken for speed keep behaviour: a cached read is never stale, a skipped
search tier is one that had nothing to add."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.core.errors import ValidationFailed
from kith.people import search, services
from kith.people.models import FieldDefinition, Party
from kith.people.services import PartyInput
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def _create(alice, attributes):
    return services.create_party(
        actor=alice,
        data=PartyInput(
            kind="person",
            fields={"given_name": "Ana", "family_name": "Lima"},
            attributes=attributes,
        ),
    )


def test_field_definitions_follow_changes_made_behind_the_service(alice):
    services.define_field(actor=alice, key="tier", label="Tier", type="choice", choices=["a", "b"])
    assert _create(alice, {"tier": "a"}).attributes == {"tier": "a"}
    # Changed with a plain UPDATE (as another process might): the next create sees it.
    FieldDefinition.objects.filter(key="tier").update(choices=["c"])
    with pytest.raises(ValidationFailed):
        _create(alice, {"tier": "a"})
    assert _create(alice, {"tier": "c"}).attributes == {"tier": "c"}
    FieldDefinition.objects.filter(key="tier").delete()
    with pytest.raises(ValidationFailed):
        _create(alice, {"tier": "c"})


def test_an_email_found_exactly_skips_the_typo_tier(alice):
    make_person(alice, given="Ana", family="Lima", email="ana.lima@example.org")
    make_person(alice, given="Anna", family="Lima", email="anna.lima@example.org")
    with CaptureQueriesContext(connection) as queries:
        found = search.search(Party.objects.active(), "ana.lima@example.org", limit=20)
    assert [p.display_name for p in found] == ["Ana Lima"]
    # One candidate query (the exact tier) and the load of the parties found.
    assert len(queries) == 2


def test_short_queries_rank_names_starting_with_the_letters_first(alice):
    for i in range(80):
        make_person(alice, given=f"Zed{i:02d}", family="Other", email=f"jo{i}@example.org")
    make_person(alice, given="Joana", family="Lima")
    found = search.search(Party.objects.active(), "jo", limit=5)
    assert found[0].display_name == "Joana Lima"


def test_reading_a_person_reads_the_party_once(alice, api_as):
    """The detail reply uses the party the access check loaded, and its owner when that
    is the reader: token, party, contact points, tags, roles, then the read's log row."""
    from kith.people.models import Tag

    client = api_as(alice)
    party = make_person(alice, given="Ana", family="Lima", email="ana@example.org")
    party.tags.add(Tag.objects.create(name="vip"))
    assert party.owner_id == alice.pk
    client.get("/api/me")  # the token's last-use note, once a minute
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/people/{party.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["owner"] == alice.username and body["tags"] == ["vip"]
    assert [cp["value"] for cp in body["contact_points"]] == ["ana@example.org"]
    sqls = [q["sql"] for q in queries]
    assert sum('FROM "people_party"' in s for s in sqls) == 1
    assert not any('FROM "accounts_user"' in s for s in sqls)
    reads = [s for s in sqls if s.startswith("SELECT")]
    assert len(reads) == 5, reads
