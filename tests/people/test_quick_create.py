"""Creating a person with a role at an existing or a new organisation, in one step."""

import datetime as dt

import pytest

from kith.core.errors import ValidationFailed
from kith.people.models import Party, Relationship
from kith.people.quick_create import RoleChoice, create_person_with_role
from kith.people.services import PartyInput
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def _person(given="Dora", family="Dias") -> PartyInput:
    return PartyInput(kind="person", fields={"given_name": given, "family_name": family})


# ---------------------------------------------------------------- service


def test_role_at_an_existing_organisation(alice):
    acme = make_org(alice)
    dora = create_person_with_role(
        actor=alice,
        data=_person(),
        choice=RoleChoice(role="employee", organization=acme, valid_from=dt.date(2024, 2, 1)),
    )
    rel = Relationship.objects.get(subject=dora)
    assert (rel.role.slug, rel.object_id, rel.valid_from) == (
        "employee",
        acme.pk,
        dt.date(2024, 2, 1),
    )


def test_role_at_a_new_organisation_creates_it(alice):
    dora = create_person_with_role(
        actor=alice, data=_person(), choice=RoleChoice(role="customer", new_organization=" Globex ")
    )
    globex = Party.objects.get(kind="organization", display_name="Globex")
    assert Relationship.objects.get(subject=dora).object_id == globex.pk


def test_without_a_role_it_is_a_plain_create(alice):
    dora = create_person_with_role(actor=alice, data=_person(), choice=RoleChoice())
    assert not Relationship.objects.filter(subject=dora).exists()


def test_an_organisation_without_a_role_is_refused_and_nothing_is_written(alice):
    before = Party.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        create_person_with_role(
            actor=alice, data=_person(), choice=RoleChoice(new_organization="Globex")
        )
    assert [e.field for e in exc.value.errors] == ["role"]
    assert Party.objects.count() == before


def test_both_an_existing_and_a_new_organisation_is_refused(alice):
    acme = make_org(alice)
    with pytest.raises(ValidationFailed) as exc:
        create_person_with_role(
            actor=alice,
            data=_person(),
            choice=RoleChoice(role="customer", organization=acme, new_organization="Globex"),
        )
    assert [e.field for e in exc.value.errors] == ["new_organization"]


def test_a_refused_person_leaves_no_new_organisation_behind(alice):
    before = Party.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        create_person_with_role(
            actor=alice,
            data=_person(given="", family=""),
            choice=RoleChoice(role="customer", new_organization="Globex"),
        )
    assert "given_name" in [e.field for e in exc.value.errors]
    assert Party.objects.count() == before
    assert not Party.objects.filter(display_name="Globex").exists()


def test_a_role_that_does_not_apply_to_people_rolls_everything_back(alice):
    from kith.people import services

    services.create_role_type(
        actor=alice, slug="supplier-org", name="Supplier org", applies_to="organization"
    )
    before = Party.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        create_person_with_role(
            actor=alice,
            data=_person(),
            choice=RoleChoice(role="supplier-org", new_organization="Globex"),
        )
    assert [e.field for e in exc.value.errors] == ["role"]
    assert Party.objects.count() == before


# ---------------------------------------------------------------- the form


FORM = {"given_name": "Dora", "family_name": "Dias", "visibility": "everyone"}


def test_the_create_form_offers_the_role_part(alice):
    r = client_for(alice).get("/people/new/")
    body = r.content.decode()
    assert r.status_code == 200
    assert 'name="new_organization"' in body
    assert 'data-picker="organization"' in body
    # The organisation select lists nobody: the type-ahead searches.
    assert "data-picker-new-url" not in body.split('id="quick-role"')[1].split("</fieldset>")[0]


def test_form_with_an_existing_organisation(alice):
    acme = make_org(alice)
    r = client_for(alice).post(
        "/people/new/",
        {
            **FORM,
            "role": "employee",
            "organization": str(acme.public_id),
            "role_from": "2024-02-01",
        },
    )
    assert r.status_code == 302
    dora = Party.objects.get(display_name="Dora Dias")
    rel = Relationship.objects.get(subject=dora)
    assert rel.object_id == acme.pk and rel.valid_from == dt.date(2024, 2, 1)


def test_form_with_a_new_organisation(alice):
    r = client_for(alice).post(
        "/people/new/", {**FORM, "role": "customer", "new_organization": "Initech"}
    )
    assert r.status_code == 302
    dora = Party.objects.get(display_name="Dora Dias")
    assert Relationship.objects.get(subject=dora).object.display_name == "Initech"


def test_form_refuses_an_organisation_the_user_cannot_see(bob, alice):
    hidden = make_org(alice, name="Hidden Co", visibility="private")
    before = Party.objects.count()
    r = client_for(bob).post(
        "/people/new/", {**FORM, "role": "customer", "organization": str(hidden.public_id)}
    )
    assert r.status_code == 422
    assert r.context["role_form"].errors["organization"] == ["No such organisation."]
    assert Party.objects.count() == before


def test_form_bad_input_is_inline_and_writes_nothing(alice):
    before = Party.objects.count()
    client = client_for(alice)
    r = client.post("/people/new/", {**FORM, "new_organization": "Initech"})
    assert r.status_code == 422
    assert r.context["role_form"].errors["role"]
    r = client.post("/people/new/", {**FORM, "role": "no-such-role", "new_organization": "X"})
    assert r.status_code == 422
    assert r.context["role_form"].errors["role"]
    r = client.post("/people/new/", {**FORM, "role": "customer", "organization": "not-a-uuid"})
    assert r.status_code == 422
    assert r.context["role_form"].errors["organization"]
    r = client.post("/people/new/", {**FORM, "role": "customer", "role_from": "31/31/2020"})
    assert r.status_code == 422
    assert r.context["role_form"].errors["role_from"]
    assert 'id="id_role_from_error"' in r.content.decode()
    assert Party.objects.count() == before


def test_the_person_form_errors_and_the_role_errors_show_together(alice):
    r = client_for(alice).post(
        "/people/new/", {"visibility": "everyone", "new_organization": "Initech"}
    )
    assert r.status_code == 422
    assert r.context["form"].errors["given_name"]
    assert r.context["role_form"].errors["role"]


def test_an_existing_person_still_edits_without_the_role_part(alice):
    dora = make_person(alice, given="Dora", family="Dias")
    r = client_for(alice).get(f"/people/{dora.public_id}/edit/")
    assert r.status_code == 200
    assert 'name="new_organization"' not in r.content.decode()
