"""Users and teams in the API: staff read; admins invite, change roles, deactivate,
create and rename teams and change their members (the Settings pages' services)."""

from __future__ import annotations

import pytest

from kith.accounts import services
from kith.accounts.models import Team, User
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _put(api, path: str):
    return api._call("put", path, {})


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_staff_list_users_without_customers(alice, bob, carol, api_as):
    r = api_as(bob).get("/api/users")
    assert r.status_code == 200
    names = [u["username"] for u in r.json()]
    assert "alice" in names and "bob" in names and "carol" not in names
    me = next(u for u in r.json() if u["username"] == "bob")
    assert me["role"] == "agent" and me["status"] == "active"
    assert api_as(carol).get("/api/users").status_code == 404
    assert api_as(carol).get("/api/teams").status_code == 404


def test_admin_invites_changes_role_and_deactivates(alice, bob, api_as):
    api = api_as(alice)
    r = api.post(
        "/api/users/invitations",
        {"email": "Zoe@Example.com", "role": "manager", "first_name": "Zoe"},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "invited" and body["role"] == "manager"
    assert "/settings/invitations/" in body["invitation_link"]
    assert api.post("/api/users/invitations", {"email": "zoe@example.com"}).status_code == 422
    r = api.patch(f"/api/users/{bob.public_id}", {"role": "manager"})
    assert r.status_code == 200 and r.json()["role"] == "manager"
    r = api.patch(f"/api/users/{bob.public_id}", {"active": False})
    assert r.status_code == 200 and r.json()["status"] == "deactivated"
    bob.refresh_from_db()
    assert bob.role == "manager" and not bob.is_active
    assert AuditEntry.objects.filter(action="user.deactivated").exists()


def test_user_rules_are_field_errors(alice, api_as):
    api = api_as(alice)
    r = api.patch(f"/api/users/{alice.public_id}", {"active": False})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "active"
    r = api.patch(f"/api/users/{alice.public_id}", {"role": "boss"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"
    r = api.patch(f"/api/users/{alice.public_id}", {})
    assert r.status_code == 422
    r = api.post("/api/users/invitations", {"email": "not an address"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"


def test_teams_create_rename_and_members(alice, bob, dan, carol, api_as):
    api = api_as(alice)
    r = api.post("/api/teams", {"name": "North", "members": ["bob"]})
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    assert r.json()["members"] == ["bob"]
    assert api.post("/api/teams", {"name": "north"}).status_code == 422
    assert api.post("/api/teams", {"name": "South", "members": ["carol"]}).status_code == 422
    r = api.patch(f"/api/teams/{tid}", {"name": "North-East"})
    assert r.status_code == 200 and r.json()["name"] == "North-East"
    r = _put(api, f"/api/teams/{tid}/members/dan")
    assert r.status_code == 200 and r.json()["members"] == ["bob", "dan"]
    r = api.delete(f"/api/teams/{tid}/members/bob")
    assert r.status_code == 200 and r.json()["members"] == ["dan"]
    assert _put(api, f"/api/teams/{tid}/members/nobody").status_code == 422
    team = Team.objects.get(public_id=tid)
    assert list(team.members.values_list("username", flat=True)) == ["dan"]
    assert [t["name"] for t in api_as(bob).get("/api/teams").json()] == ["North-East"]


def test_agents_managers_and_customers_cannot_administer(alice, mia, bob, carol, api_as):
    team = services.create_team(actor=alice, name="Ops")
    for user, status in ((bob, 403), (mia, 403), (carol, 404)):
        api = api_as(user)
        assert api.post("/api/users/invitations", {"email": "x@example.com"}).status_code == status
        assert api.patch(f"/api/users/{alice.public_id}", {"role": "viewer"}).status_code == status
        assert api.post("/api/teams", {"name": "Mine"}).status_code == status
        assert api.patch(f"/api/teams/{team.public_id}", {"name": "Mine"}).status_code == status
        assert _put(api, f"/api/teams/{team.public_id}/members/bob").status_code == status
    alice.refresh_from_db()
    assert alice.role == "admin"
    assert not User.objects.filter(email="x@example.com").exists()
    assert not Team.objects.filter(name="Mine").exists() and not team.members.exists()
