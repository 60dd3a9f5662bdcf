"""Inline edit of simple list cells: click → small form → saved by the people service."""

from __future__ import annotations

import pytest

from kith.core.models import AuditEntry
from kith.people import list_prefs
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _url(party, field: str) -> str:
    return f"/parties/{party.public_id}/inline/{field}/"


def test_the_list_offers_inline_edit_to_writers_only(alice, vic):
    ana = make_person(alice, title="Buyer")
    list_prefs.choose_columns(actor=alice, list_name="people", columns=["title", "owner", "tags"])
    page = client_for(alice).get("/people/").content.decode()
    assert _url(ana, "title") in page and _url(ana, "owner") in page and _url(ana, "tags") in page
    assert "Buyer" in page
    list_prefs.choose_columns(actor=vic, list_name="people", columns=["title", "owner", "tags"])
    assert _url(ana, "title") not in client_for(vic).get("/people/").content.decode()


def test_click_gives_a_form_and_saving_rerenders_the_cell(alice):
    ana = make_person(alice, title="Buyer")
    client = client_for(alice)
    form = client.get(_url(ana, "title"), headers=HTMX)
    assert form.status_code == 200
    body = form.content.decode()
    assert "<form" in body and 'value="Buyer"' in body
    r = client.post(_url(ana, "title"), {"value": "Head of buying"}, headers=HTMX)
    assert r.status_code == 200
    body = r.content.decode()
    assert "<form" not in body and "Head of buying" in body and "Saved." in body
    ana.refresh_from_db()
    assert ana.title == "Head of buying"
    assert AuditEntry.objects.filter(action="person.updated", object_id=str(ana.pk)).exists()
    cancel = client.get(_url(ana, "title") + "?cancel=1", headers=HTMX).content.decode()
    assert "<form" not in cancel and "Head of buying" in cancel


def test_owner_and_tags(alice, bob):
    acme = make_org(alice)
    client = client_for(alice)
    r = client.post(_url(acme, "owner"), {"value": "bob"}, headers=HTMX)
    assert r.status_code == 200 and "bob" in r.content.decode()
    r = client.post(_url(acme, "tags"), {"value": "vip, partner"}, headers=HTMX)
    assert r.status_code == 200
    acme.refresh_from_db()
    assert acme.owner == bob
    assert sorted(t.name for t in acme.tags.all()) == ["partner", "vip"]


def test_errors_are_shown_in_the_cell(alice):
    ana = make_person(alice)
    client = client_for(alice)
    r = client.post(_url(ana, "tags"), {"value": "x" * 61}, headers=HTMX)
    assert r.status_code == 422
    body = r.content.decode()
    assert "<form" in body and "longer than 60 characters" in body
    r = client.post(_url(ana, "owner"), {"value": "nobody-like-this"}, headers=HTMX)
    assert r.status_code == 422 and "field-errors" in r.content.decode()
    r = client.post(_url(ana, "title"), {"value": "t" * 201}, headers=HTMX)
    assert r.status_code == 422 and "field-errors" in r.content.decode()
    ana.refresh_from_db()
    assert ana.title == "" and not ana.tags.exists()


def test_access(alice, bob, dan, vic, carol):
    private = make_person(alice, given="Pia", visibility="private", owner=bob)
    assert client_for(dan).post(_url(private, "title"), {"value": "x"}).status_code == 404
    public = make_person(alice, given="Pub")
    assert client_for(vic).post(_url(public, "title"), {"value": "x"}).status_code == 403
    assert client_for(carol).post(_url(private, "title"), {"value": "x"}).status_code in (302, 404)
    org = make_org(alice)
    assert client_for(alice).get(_url(org, "title")).status_code == 404  # persons only
    assert client_for(alice).get(_url(org, "password")).status_code == 404
    private.refresh_from_db()
    public.refresh_from_db()
    assert private.title == "" and public.title == ""


def test_admins_and_managers_can_take_the_owner_away_agents_cannot(alice, mia, bob, api_as):
    ana = make_person(alice, owner=bob)
    admin = client_for(alice)
    assert "No owner" in admin.get(_url(ana, "owner"), headers=HTMX).content.decode()
    r = admin.post(_url(ana, "owner"), {"value": ""}, headers=HTMX)
    assert r.status_code == 200 and "No owner" in r.content.decode()
    ana.refresh_from_db()
    assert ana.owner is None
    entry = AuditEntry.objects.filter(action="person.updated", object_id=str(ana.pk)).latest("id")
    assert "owner" in entry.changes
    # An agent may only set themselves: no "No owner" choice, and an empty value is refused.
    mine = make_person(bob, given="Own")
    agent = client_for(bob)
    body = agent.get(_url(mine, "owner"), headers=HTMX).content.decode()
    assert "No owner" not in body and "Choose…" in body
    assert agent.post(_url(mine, "owner"), {"value": ""}, headers=HTMX).status_code == 422
    mine.refresh_from_db()
    assert mine.owner == bob
    # The API: an explicit null takes it away (managers), agents get 403 on the field,
    # and a PATCH that does not mention the owner leaves it.
    url = f"/api/people/{mine.public_id}"
    r = api_as(bob).patch(url, {"owner": None})
    assert r.status_code == 403 and "owner" in r.content.decode()
    assert api_as(mia).patch(url, {"title": "Buyer"}).json()["owner"] == "bob"
    r = api_as(mia).patch(url, {"owner": None})
    assert r.status_code == 200 and r.json()["owner"] is None
    mine.refresh_from_db()
    assert mine.owner is None and mine.title == "Buyer"
