"""Who may do what with deals: the role × visibility matrix, through the API."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.sales import services


@pytest.fixture
def deals(alice, bob, dan, acme, make_deal):
    team = account_services.create_team(actor=alice, name="North")
    bob.teams.add(team)
    return {
        "public": make_deal(title="Public", owner=alice),
        "bob_private": make_deal(title="Bob private", owner=bob, visibility="private"),
        "dan_private": make_deal(title="Dan private", owner=dan, visibility="private"),
        "north": make_deal(title="North team", owner=dan, visibility="team", team=team),
    }


def titles(api):
    return sorted(d["title"] for d in api.get("/api/deals").json()["items"])


def test_visibility_matrix(api_as, deals, alice, mia, bob, dan, vic):
    everything = ["Bob private", "Dan private", "North team", "Public"]
    assert titles(api_as(alice)) == everything
    assert titles(api_as(mia)) == everything
    assert titles(api_as(bob)) == ["Bob private", "North team", "Public"]
    assert titles(api_as(dan)) == ["Dan private", "North team", "Public"]
    assert titles(api_as(vic)) == ["Public"]


def test_invisible_deal_is_404_for_every_verb(api_as, deals, bob, stages):
    api = api_as(bob)
    did = deals["dan_private"].public_id
    assert api.get(f"/api/deals/{did}").status_code == 404
    assert api.patch(f"/api/deals/{did}", {"title": "x"}).status_code == 404
    assert (
        api.post(f"/api/deals/{did}/move", {"stage": str(stages["Won"].public_id)}).status_code
        == 404
    )
    assert api.get(f"/api/deals/{did}/history").status_code == 404
    assert api.delete(f"/api/deals/{did}").status_code == 404


def test_viewer_reads_but_cannot_write(api_as, deals, vic, acme, stages):
    api = api_as(vic)
    did = deals["public"].public_id
    assert api.get(f"/api/deals/{did}").status_code == 200
    assert (
        api.post("/api/deals", {"title": "x", "organization": str(acme.public_id)}).status_code
        == 403
    )
    assert api.patch(f"/api/deals/{did}", {"title": "x"}).status_code == 403
    assert (
        api.post(f"/api/deals/{did}/move", {"stage": str(stages["Won"].public_id)}).status_code
        == 403
    )
    assert (
        api.post(f"/api/deals/{did}/lines", {"description": "x", "unit_price": "1"}).status_code
        == 403
    )
    assert api.delete(f"/api/deals/{did}").status_code == 403
    assert (
        api.post("/api/products", {"name": "p", "sku": "P", "unit_price": "1"}).status_code == 403
    )


def test_agent_changes_what_they_see_but_not_the_catalogue(api_as, deals, bob, stages):
    api = api_as(bob)
    did = deals["north"].public_id
    r = api.post(f"/api/deals/{did}/move", {"stage": str(stages["Proposal"].public_id)})
    assert r.status_code == 200
    assert (
        api.post("/api/products", {"name": "p", "sku": "P", "unit_price": "1"}).status_code == 403
    )
    assert api.post("/api/pipelines", {"name": "x", "stages": [{"name": "a"}]}).status_code == 403
    assert (
        api.post(
            "/api/exchange-rates", {"currency": "USD", "rate": "1", "valid_from": "2026-01-01"}
        ).status_code
        == 403
    )
    assert api.get("/api/products").status_code == 200


def test_manager_manages_catalogue(api_as, mia):
    api = api_as(mia)
    assert (
        api.post("/api/products", {"name": "p", "sku": "P", "unit_price": "1"}).status_code == 201
    )


def test_portal_user_gets_nothing(api_as, deals, carol, alice, carol_person):
    # Even a deal with carol on it stays invisible through the staff API.
    deal = deals["public"]
    services.add_contact(actor=alice, deal=deal, person=carol_person, role="Buyer")
    api = api_as(carol)
    assert api.get("/api/deals").status_code == 404
    assert api.get(f"/api/deals/{deal.public_id}").status_code == 404
    assert api.get("/api/forecast").status_code == 404
    assert api.get("/api/conversion").status_code == 404
    assert api.get("/api/products").status_code == 404
    assert api.get("/api/pipelines").status_code == 404


def test_forecast_only_counts_visible_deals(api_as, deals, bob, vic):
    import datetime as dt

    for d in deals.values():
        d.expected_close_date = dt.date.today()
        d.amount = 100
        d.refresh_derived()
        d.save()
    services.rebuild_forecast_cells()
    assert api_as(bob).get("/api/forecast", group="none").json()["totals"]["pipeline"] == "300.00"
    assert api_as(vic).get("/api/forecast", group="none").json()["totals"]["pipeline"] == "100.00"


def test_anonymous_is_401(client):
    assert client.get("/api/deals").status_code == 401


def test_names_of_parties_the_reader_cannot_see_stay_hidden(api_as, alice, bob, dan, make_deal):
    from django.test import Client
    from django.urls import reverse

    from tests.conftest import PASSWORD, make_org

    secret_org = make_org(dan, "Secret Corp", owner=dan, visibility="private")
    deal = make_deal(title="Open deal", organization=secret_org, owner=alice)
    body = api_as(bob).get(f"/api/deals/{deal.public_id}").json()
    assert body["organization"] == {"id": str(secret_org.public_id), "name": "(hidden)"}
    listed = api_as(bob).get("/api/deals").json()["items"]
    assert listed[0]["organization"]["name"] == "(hidden)"
    assert (
        api_as(alice).get(f"/api/deals/{deal.public_id}").json()["organization"]["name"]
        == "Secret Corp"
    )
    web = Client()
    web.login(username="bob", password=PASSWORD)
    for url in (
        reverse("sales:board"),
        reverse("sales:deals"),
        reverse("sales:deal", args=[deal.public_id]),
    ):
        assert "Secret Corp" not in web.get(url).content.decode(), url
