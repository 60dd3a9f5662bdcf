"""The keyword management page (staff UI) and keyword renames through the API."""

from __future__ import annotations

import pytest

from kith.core.models import AuditEntry
from kith.listening.models import Keyword
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_admin_adds_edits_and_removes_keywords(alice):
    web = client_for(alice)
    assert web.get("/listening/keywords/").status_code == 200
    r = web.post("/listening/keywords/", {"term": "  Acme  Kettle "})
    assert r.status_code == 302
    r = web.post("/listening/keywords/", {"term": "Rival Co", "is_competitor": "on"})
    assert r.status_code == 302
    page = web.get("/listening/keywords/").content.decode()
    own, competitors = page.split('id="kw-own-h"')[1].split('id="kw-comp-h"')
    assert "Acme Kettle" in own and "Rival Co" not in own
    assert "Rival Co" in competitors

    # The same term again (any case, any spacing) and an empty one: 422 naming the field.
    dup = web.post("/listening/keywords/", {"term": "acme kettle"})
    assert dup.status_code == 422
    assert "That keyword is tracked already." in dup.content.decode()
    assert 'aria-invalid="true"' in dup.content.decode()
    empty = web.post("/listening/keywords/", {"term": "   "})
    assert empty.status_code == 422 and "This field is required." in empty.content.decode()
    assert Keyword.objects.count() == 2

    kettle = Keyword.objects.get(normalized="acme kettle")
    assert web.get(f"/listening/keywords/{kettle.public_id}/").status_code == 200
    r = web.post(
        f"/listening/keywords/{kettle.public_id}/",
        {"term": "Acme Kettle Pro", "is_competitor": "", "active": ""},
    )
    assert r.status_code == 302
    kettle.refresh_from_db()
    assert (kettle.term, kettle.normalized, kettle.active) == (
        "Acme Kettle Pro",
        "acme kettle pro",
        False,
    )
    entry = AuditEntry.objects.filter(action="listening.keyword_updated").latest("id")
    assert entry.changes["term"] == ["Acme Kettle", "Acme Kettle Pro"]
    clash = web.post(
        f"/listening/keywords/{kettle.public_id}/", {"term": "rival co", "active": "on"}
    )
    assert clash.status_code == 422 and "tracked already" in clash.content.decode()

    r = web.post(f"/listening/keywords/{kettle.public_id}/delete/")
    assert r.status_code == 302
    assert list(Keyword.objects.values_list("term", flat=True)) == ["Rival Co"]


def test_who_may_see_and_change_keywords(alice, bob, carol):
    client_for(alice).post("/listening/keywords/", {"term": "Acme"})
    acme = Keyword.objects.get()
    agent = client_for(bob)
    page = agent.get("/listening/keywords/")
    assert page.status_code == 200 and "Acme" in page.content.decode()
    assert "Add keyword" not in page.content.decode()
    assert agent.post("/listening/keywords/", {"term": "Other"}).status_code == 403
    assert agent.post(f"/listening/keywords/{acme.public_id}/", {"term": "X"}).status_code == 403
    assert agent.post(f"/listening/keywords/{acme.public_id}/delete/").status_code == 403
    customer = client_for(carol)
    assert customer.get("/listening/keywords/").status_code in (302, 404)
    assert customer.post(f"/listening/keywords/{acme.public_id}/delete/").status_code in (302, 404)
    assert Keyword.objects.get().term == "Acme"


def test_api_renames_a_keyword(api_as, alice):
    api = api_as(alice)
    made = api.post("/api/listening/keywords", {"term": "Acme"}).json()
    other = api.post("/api/listening/keywords", {"term": "Globex"}).json()
    r = api.patch(f"/api/listening/keywords/{made['id']}", {"term": "Acme Corp"})
    assert r.status_code == 200 and r.json()["term"] == "Acme Corp"
    r = api.patch(f"/api/listening/keywords/{other['id']}", {"term": "ACME corp"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "term"
