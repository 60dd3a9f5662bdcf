"""Renaming and retiring role types and custom fields on the settings pages."""

from __future__ import annotations

import pytest

from kith.core.models import AuditEntry
from kith.people import services as people_services
from kith.people.models import FieldDefinition, RoleType
from kith.people.services import PartyInput
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def _role(actor, slug="stockist") -> RoleType:
    return people_services.create_role_type(actor=actor, slug=slug, name="Stockist")


def test_a_manager_renames_a_role_and_its_slug_stays(alice, mia):
    role = _role(alice)
    client = client_for(mia)
    url = f"/settings/roles/{role.public_id}/"
    assert client.get(url).status_code == 200
    r = client.post(url, {"name": "Value-added reseller", "object_label": "resells for"})
    assert r.status_code == 302
    role.refresh_from_db()
    assert (role.name, role.object_label, role.slug) == (
        "Value-added reseller",
        "resells for",
        "stockist",
    )
    assert AuditEntry.objects.filter(action="role_type.updated").exists()
    r = client.post(url, {"name": "  "})
    assert r.status_code == 422 and "name" in r.context["form"].errors


def test_retiring_a_role_keeps_relationships_and_offers_it_no_more(alice):
    role = _role(alice)
    acme = make_org(alice)
    ana = make_person(alice)
    people_services.add_relationship(actor=alice, subject=ana, role="stockist", object=acme)
    client = client_for(alice)
    url = f"/settings/roles/{role.public_id}/"
    assert 'value="stockist"' in client.get(f"/people/{ana.public_id}/").content.decode()
    assert client.post(url, {"action": "retire"}).status_code == 302
    role.refresh_from_db()
    assert role.active is False
    assert ana.relationships.filter(role=role).count() == 1  # old data kept
    page = client.get(f"/people/{ana.public_id}/").content.decode()
    assert "Stockist" in page  # the existing role is still shown
    assert 'value="stockist"' not in page  # but not offered in the add-role form
    with pytest.raises(Exception) as info:
        people_services.add_relationship(actor=alice, subject=ana, role="stockist", object=acme)
    assert info.value.errors[0].field == "role"
    assert "Retired" in client.get("/settings/roles/").content.decode()
    assert client.post(url, {"action": "restore"}).status_code == 302
    role.refresh_from_db()
    assert role.active is True


def test_an_agent_cannot_rename_or_retire_roles(alice, bob, carol):
    role = _role(alice)
    url = f"/settings/roles/{role.public_id}/"
    assert client_for(bob).post(url, {"action": "retire"}).status_code == 403
    assert client_for(bob).post(url, {"name": "X"}).status_code == 403
    role.refresh_from_db()
    assert role.active and role.name == "Stockist"
    assert client_for(carol).post(url, {"action": "retire"}).status_code in (302, 404)
    role.refresh_from_db()
    assert role.active


def _field(actor, **kw) -> FieldDefinition:
    return people_services.define_field(
        actor=actor, key="shoe_size", label="Shoe size", type="number", **kw
    )


def test_an_admin_renames_a_field_and_its_key_stays(alice):
    definition = _field(alice)
    client = client_for(alice)
    url = f"/settings/fields/{definition.public_id}/"
    assert client.post(url, {"label": "Shoe size (EU)"}).status_code == 302
    definition.refresh_from_db()
    assert (definition.label, definition.key) == ("Shoe size (EU)", "shoe_size")
    r = client.post(url, {"label": ""})
    assert r.status_code == 422 and "label" in r.context["form"].errors


def test_retiring_a_field_keeps_values_and_hides_it_on_new_records(alice):
    definition = _field(alice, required=True)
    ana = people_services.create_party(
        actor=alice,
        data=PartyInput(
            kind="person",
            fields={"given_name": "Ana", "family_name": "Lima"},
            attributes={"shoe_size": 38},
        ),
    )
    client = client_for(alice)
    assert (
        client.post(f"/settings/fields/{definition.public_id}/", {"action": "retire"}).status_code
        == 302
    )
    definition.refresh_from_db()
    assert definition.active is False
    # New records: not offered, and no longer required.
    new_form = client.get("/people/new/").context["form"]
    assert "attr_shoe_size" not in new_form.fields
    bea = make_person(alice, given="Bea")  # would fail if the retired field were required
    assert "shoe_size" not in bea.attributes
    # A record that holds a value keeps it, shown and kept through an edit.
    edit = client.get(f"/people/{ana.public_id}/edit/").context["form"]
    assert "attr_shoe_size" in edit.fields and not edit.fields["attr_shoe_size"].required
    r = client.post(
        f"/people/{ana.public_id}/edit/",
        {
            "given_name": "Ana",
            "family_name": "Lima",
            "visibility": "everyone",
            "attr_shoe_size": "38",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    ana.refresh_from_db()
    assert ana.attributes.get("shoe_size") == 38


def test_only_admins_rename_or_retire_fields(alice, mia):
    definition = _field(alice)
    url = f"/settings/fields/{definition.public_id}/"
    assert client_for(mia).post(url, {"action": "retire"}).status_code == 403
    definition.refresh_from_db()
    assert definition.active
