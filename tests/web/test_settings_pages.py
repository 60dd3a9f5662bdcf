"""Settings → teams, roles, custom fields, the company and the first-run checklist."""

from __future__ import annotations

import pytest

from kith.accounts import services
from kith.accounts.models import Team, Workspace
from kith.people.models import FieldDefinition, Party, RoleType
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


def test_create_rename_and_staff_a_team(alice, bob, dan, carol):
    client = client_for(alice)
    r = client.post("/settings/teams/", {"name": "  Support   EU "})
    team = Team.objects.get()
    assert r.status_code == 302 and team.name == "Support EU"
    assert client.get("/settings/teams/").status_code == 200
    assert client.get(f"/settings/teams/{team.public_id}/").status_code == 200
    r = client.post(f"/settings/teams/{team.public_id}/", {"form": "name", "name": "Support"})
    assert r.status_code == 302
    team.refresh_from_db()
    assert team.name == "Support"
    r = client.post(
        f"/settings/teams/{team.public_id}/",
        {"form": "members", "members": [str(bob.public_id), str(dan.public_id)]},
    )
    assert r.status_code == 302
    assert set(team.members.values_list("username", flat=True)) == {"bob", "dan"}
    # A customer's login is not offered and not accepted as a member.
    page = client.get(f"/settings/teams/{team.public_id}/").content.decode()
    assert str(carol.public_id) not in page
    r = client.post(
        f"/settings/teams/{team.public_id}/",
        {"form": "members", "members": [str(carol.public_id)]},
    )
    assert r.status_code == 422
    assert set(team.members.values_list("username", flat=True)) == {"bob", "dan"}


def test_team_bad_names_show_errors_by_label(alice):
    services.create_team(actor=alice, name="Sales")
    other = services.create_team(actor=alice, name="Support")
    client = client_for(alice)
    r = client.post("/settings/teams/", {"name": "sales"})
    assert r.status_code == 422 and "Team name: A team with this name exists." in r.content.decode()
    r = client.post("/settings/teams/", {"name": "   "})
    assert r.status_code == 422 and "Team name:" in r.content.decode()
    r = client.post(f"/settings/teams/{other.public_id}/", {"form": "name", "name": "SALES"})
    assert r.status_code == 422 and "Team name: A team with this name exists." in r.content.decode()
    assert Team.objects.count() == 2


def test_unknown_team_is_404(alice):
    assert (
        client_for(alice).get("/settings/teams/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_roles_list_and_add_by_managers_not_agents(mia, bob):
    client = client_for(mia)
    page = client.get("/settings/roles/")
    assert page.status_code == 200 and "Customer" in page.content.decode()
    r = client.post(
        "/settings/roles/",
        {"name": "Franchisee", "object_label": "franchisee of", "applies_to": "any"},
    )
    assert r.status_code == 302
    assert RoleType.objects.get(slug="franchisee").name == "Franchisee"
    assert client_for(bob).get("/settings/roles/").status_code == 403
    r = client_for(bob).post("/settings/roles/", {"name": "Sneaky", "applies_to": "any"})
    assert r.status_code == 403
    assert not RoleType.objects.filter(slug="sneaky").exists()


def test_role_duplicate_slug_is_a_labelled_error(alice):
    r = client_for(alice).post("/settings/roles/", {"name": "Customer", "applies_to": "any"})
    assert r.status_code == 422
    assert "Short name: A role with this slug exists." in r.content.decode()


def test_custom_fields_list_and_add(alice, mia):
    client = client_for(alice)
    r = client.post(
        "/settings/fields/",
        {"label": "Plan", "type": "choice", "choices": "Free\nPro\nTeam", "applies_to": "person"},
    )
    assert r.status_code == 302
    definition = FieldDefinition.objects.get(key="plan")
    assert definition.choices == ["Free", "Pro", "Team"]
    assert "Plan" in client.get("/settings/fields/").content.decode()
    # Managers may not define fields (as in the API).
    assert client_for(mia).post("/settings/fields/", {"label": "X"}).status_code == 403


def test_custom_field_bad_input_is_labelled(alice):
    client = client_for(alice)
    r = client.post(
        "/settings/fields/", {"label": "Plan", "type": "choice", "applies_to": "person"}
    )
    assert r.status_code == 422 and "Choices: A choice field needs choices." in r.content.decode()
    client.post("/settings/fields/", {"label": "NPS", "type": "number", "applies_to": "person"})
    r = client.post("/settings/fields/", {"label": "NPS", "type": "number", "applies_to": "person"})
    assert r.status_code == 422 and "Key: A field with this key exists." in r.content.decode()
    r = client.post("/settings/fields/", {"label": "", "type": "magic", "applies_to": "person"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "Label:" in html and "Type:" in html
    assert FieldDefinition.objects.count() == 1


def test_company_is_created_once_then_renamed(alice):
    client = client_for(alice)
    r = client.post("/settings/company/", {"name": "Kith Labs", "website": "https://kith.example"})
    assert r.status_code == 302
    company = Workspace.objects.get().company
    assert company.kind == Party.Kind.ORGANIZATION and company.display_name == "Kith Labs"
    client.post("/settings/company/", {"name": "Kith Labs Ltd"})
    company.refresh_from_db()
    assert company.display_name == "Kith Labs Ltd"
    assert Party.objects.filter(kind="organization").count() == 1
    r = client.post("/settings/company/", {"name": "  "})
    assert r.status_code == 422 and "Company name:" in r.content.decode()


def test_checklist_ticks_off_from_real_data(alice):
    client = client_for(alice)
    home = client.get("/").content.decode()
    assert 'data-testid="onboarding"' in home and "0 of 3 done" in home

    services.set_company(actor=alice, name="Kith Labs")
    services.invite_user(actor=alice, email="nina@example.com")
    page = client.get("/settings/welcome/").content.decode()
    assert 'data-step="company" data-done="true"' in page
    assert 'data-step="invite" data-done="true"' in page
    assert 'data-step="contacts" data-done="false"' in page
    assert "/import/" in page

    make_person(alice, given="Ana", family="Lima")
    assert services.onboarding_steps() == {"company": True, "invite": True, "contacts": True}
    # All done: the home page no longer shows it.
    assert 'data-testid="onboarding"' not in client.get("/").content.decode()


def test_checklist_is_dismissible_and_for_admins_only(alice, bob):
    client = client_for(alice)
    assert 'data-testid="onboarding"' not in client_for(bob).get("/").content.decode()
    r = client.post("/settings/welcome/dismiss/")
    assert r.status_code == 302
    assert 'data-testid="onboarding"' not in client.get("/").content.decode()
    # Still reachable from the settings, saying it is hidden.
    assert "hidden" in client.get("/settings/welcome/").content.decode()
    assert client_for(bob).post("/settings/welcome/dismiss/").status_code == 403
