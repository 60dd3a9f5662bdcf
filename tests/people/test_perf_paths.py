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
