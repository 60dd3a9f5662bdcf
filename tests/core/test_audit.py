"""The audit log records who changed what, from which channel, about which party."""

import pytest

from kith.core.context import channel
from kith.core.models import AuditEntry
from kith.people import services
from kith.people.services import PartyInput
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def test_update_records_changed_fields_actor_and_channel(alice):
    person = make_person(alice, given="Ana", family="Lima")
    with channel("api"):
        services.update_party(actor=alice, party=person, data=PartyInput(fields={"title": "CTO"}))
    entry = AuditEntry.objects.filter(action="person.updated").get()
    assert entry.actor == alice
    assert entry.channel == "api"
    assert entry.party_id == person.pk
    assert entry.changes == {"title": ["", "CTO"]}


def test_unchanged_update_writes_no_entry(alice):
    person = make_person(alice, given="Ana", family="Lima", title="CTO")
    services.update_party(actor=alice, party=person, data=PartyInput(fields={"title": "CTO"}))
    assert not AuditEntry.objects.filter(action="person.updated").exists()


def test_audit_trail_api_is_scoped_and_shows_channel(alice, dan, bob, api_as):
    person = make_person(alice)
    with channel("api"):
        services.update_party(actor=alice, party=person, data=PartyInput(fields={"title": "CEO"}))
    items = api_as(alice).get(f"/api/parties/{person.public_id}/audit").json()["items"]
    assert [i["action"] for i in items] == ["person.updated", "person.created"]
    assert items[0]["channel"] == "api" and items[0]["actor"] == "alice"
    hidden = make_person(dan, given="Hid", family="Den", owner=dan, visibility="private")
    assert api_as(bob).get(f"/api/parties/{hidden.public_id}/audit").status_code == 404
