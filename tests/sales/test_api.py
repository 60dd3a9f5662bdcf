"""The sales API: deals CRUD, filters, cursor pages, move, history, lines, contacts, idempotency."""

from __future__ import annotations

import datetime as dt

from kith.sales import services
from kith.sales.models import Deal


def _create(api, acme, **extra):
    body = {"title": "Acme expansion", "organization": str(acme.public_id), "amount": "5000"}
    body.update(extra)
    return api.post("/api/deals", body)


def test_create_get_patch_delete(api_as, alice, acme, stages):
    api = api_as(alice)
    r = _create(api, acme, currency="usd", expected_close_date="2026-05-01")
    assert r.status_code == 201, r.json()
    deal = r.json()
    assert deal["stage"]["name"] == "Lead" and deal["probability"] == 10
    assert deal["amount"] == "5000.00" and deal["currency"] == "USD"
    assert deal["organization"]["name"] == "Acme Ltd"
    assert deal["owner"] == "alice"
    r = api.get(f"/api/deals/{deal['id']}")
    assert r.status_code == 200 and r.json()["title"] == "Acme expansion"
    r = api.patch(
        f"/api/deals/{deal['id']}",
        {"next_step": "Send proposal", "probability": 30, "forecast_category": "best_case"},
    )
    assert r.status_code == 200, r.json()
    assert r.json()["next_step"] == "Send proposal" and r.json()["probability"] == 30
    assert r.json()["forecast_category"] == "best_case"
    r = api.patch(f"/api/deals/{deal['id']}", {"stage": str(stages["Won"].public_id)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
    assert api.delete(f"/api/deals/{deal['id']}").status_code == 204
    assert api.get(f"/api/deals/{deal['id']}").status_code == 404


def test_validation_errors_name_fields(api_as, alice, acme, ana):
    api = api_as(alice)
    r = api.post("/api/deals", {"title": "", "organization": str(ana.public_id)})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert "organization" in fields
    r = _create(api, acme, amount="12.345", currency="XXQ")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {"amount", "currency"}
    r = _create(api, acme, probability=120)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "probability"
    r = _create(api, acme, expected_close_date="tomorrow")
    assert r.status_code == 422
    r = _create(api, acme, stage="00000000-0000-0000-0000-000000000000")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
    r = _create(api, acme, owner="nobody")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "owner"


def test_idempotent_create(api_as, alice, acme):
    api = api_as(alice)
    body = {"title": "Once", "organization": str(acme.public_id)}
    first = api.post("/api/deals", body, headers={"Idempotency-Key": "k1"})
    second = api.post("/api/deals", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Deal.objects.filter(title="Once").count() == 1
    other = api.post("/api/deals", {**body, "title": "Twice"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 409


def test_move_and_history(api_as, alice, acme, stages):
    api = api_as(alice)
    deal = _create(api, acme).json()
    r = api.post(f"/api/deals/{deal['id']}/move", {"stage": str(stages["Proposal"].public_id)})
    assert r.status_code == 200 and r.json()["stage"]["name"] == "Proposal"
    r = api.post(f"/api/deals/{deal['id']}/move", {"stage": str(stages["Lost"].public_id)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lost_reason"
    r = api.post(
        f"/api/deals/{deal['id']}/move",
        {"stage": str(stages["Lost"].public_id), "lost_reason": "Budget cut"},
    )
    assert r.status_code == 200
    assert r.json()["forecast_category"] == "closed" and r.json()["lost_reason"] == "Budget cut"
    history = api.get(f"/api/deals/{deal['id']}/history").json()
    assert [
        (h["from_stage"] and h["from_stage"]["name"], h["to_stage"]["name"]) for h in history
    ] == [
        (None, "Lead"),
        ("Lead", "Proposal"),
        ("Proposal", "Lost"),
    ]
    assert history[-1]["current"] and history[0]["changed_by"] == "alice"


def test_list_filters_and_cursor(api_as, alice, bob, acme, stages, make_deal):
    for i in range(5):
        make_deal(title=f"Deal {i}", expected_close_date=dt.date(2026, 1 + i, 10))
    make_deal(title="Bob's", owner=bob, stage=stages["Proposal"], forecast_category="commit")
    api = api_as(alice)
    page = api.get("/api/deals", limit=4).json()
    assert len(page["items"]) == 4 and page["next_cursor"]
    rest = api.get("/api/deals", limit=4, cursor=page["next_cursor"]).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    ids = {d["id"] for d in page["items"]} | {d["id"] for d in rest["items"]}
    assert len(ids) == 6
    assert [d["title"] for d in api.get("/api/deals", owner="bob").json()["items"]] == ["Bob's"]
    by_stage = api.get("/api/deals", stage=str(stages["Proposal"].public_id)).json()["items"]
    assert [d["title"] for d in by_stage] == ["Bob's"]
    commit = api.get("/api/deals", forecast_category="commit").json()["items"]
    assert [d["title"] for d in commit] == ["Bob's"]
    dated = api.get("/api/deals", close_from="2026-02-01", close_to="2026-03-31").json()["items"]
    assert sorted(d["title"] for d in dated) == ["Deal 1", "Deal 2"]
    assert len(api.get("/api/deals", organization=str(acme.public_id)).json()["items"]) == 6
    assert api.get("/api/deals", organization="nope").status_code == 422
    assert api.get("/api/deals", cursor="!!!").status_code == 422


def test_lines_and_contacts_api(api_as, alice, acme, ana, stages):
    api = api_as(alice)
    product = services.create_product(
        actor=alice, data={"name": "Seat", "sku": "SEAT", "unit_price": "100"}
    )
    deal = _create(api, acme, currency="EUR").json()
    r = api.post(
        f"/api/deals/{deal['id']}/lines",
        {"product": str(product.public_id), "quantity": "3", "discount": "50"},
    )
    assert r.status_code == 201, r.json()
    line = r.json()
    assert line["total"] == "250.00" and line["sku"] == "SEAT"
    got = api.get(f"/api/deals/{deal['id']}").json()
    assert got["amount"] == "250.00" and got["amount_from_lines"] is True
    r = api.patch(f"/api/deal-lines/{line['id']}", {"quantity": "4"})
    assert r.status_code == 200 and r.json()["total"] == "350.00"
    r = api.patch(f"/api/deal-lines/{line['id']}", {"quantity": "-1"})
    assert r.status_code == 422
    assert len(api.get(f"/api/deals/{deal['id']}/lines").json()) == 1
    assert api.delete(f"/api/deal-lines/{line['id']}").status_code == 204
    r = api.post(f"/api/deals/{deal['id']}/contacts", {"person": str(ana.public_id), "role": "CFO"})
    assert r.status_code == 201 and r.json()["role"] == "CFO"
    contacts = api.get(f"/api/deals/{deal['id']}/contacts").json()
    assert [c["person"]["name"] for c in contacts] == ["Ana Lima"]
    # Won: the contact's timeline and the deal's timeline both show it.
    api.post(f"/api/deals/{deal['id']}/move", {"stage": str(stages["Won"].public_id)})
    timeline = api.get(f"/api/deals/{deal['id']}/timeline").json()
    assert timeline[0]["kind"] == "deal_won" and timeline[0]["linked_to_deal"]
    assert api.delete(f"/api/deal-contacts/{contacts[0]['id']}").status_code == 204


def test_products_pipelines_rates_api(api_as, alice):
    api = api_as(alice)
    r = api.post("/api/products", {"name": "Plan", "sku": "PLAN", "unit_price": "9.90"})
    assert r.status_code == 201 and r.json()["currency"] == "EUR"
    pid = r.json()["id"]
    assert (
        api.post("/api/products", {"name": "X", "sku": "PLAN", "unit_price": "1"}).status_code
        == 422
    )
    assert api.patch(f"/api/products/{pid}", {"active": False}).json()["active"] is False
    assert len(api.get("/api/products", active=False).json()["items"]) == 1
    assert api.delete(f"/api/products/{pid}").status_code == 204
    r = api.post(
        "/api/pipelines",
        {
            "name": "Partners",
            "stages": [
                {"name": "Intro", "probability": 20},
                {"name": "Signed", "probability": 100, "is_won": True},
            ],
        },
    )
    assert r.status_code == 201, r.json()
    pipeline = r.json()
    assert [s["name"] for s in pipeline["stages"]] == ["Intro", "Signed"]
    r = api.post(
        f"/api/pipelines/{pipeline['id']}/stages",
        {"name": "Pilot", "probability": 60, "position": 2},
    )
    assert r.status_code == 201 and r.json()["order"] == 2
    r = api.patch(f"/api/stages/{r.json()['id']}", {"probability": 65})
    assert r.json()["probability"] == 65
    names = [p["name"] for p in api.get("/api/pipelines").json()]
    assert "Sales" in names and "Partners" in names
    r = api.post(
        "/api/exchange-rates", {"currency": "USD", "rate": "0.92", "valid_from": "2026-01-01"}
    )
    assert r.status_code == 201 and r.json()["base_currency"] == "EUR"
    api.post("/api/exchange-rates", {"currency": "USD", "rate": "0.95", "valid_from": "2026-06-01"})
    api.post("/api/exchange-rates", {"currency": "GBP", "rate": "1.1", "valid_from": "2026-06-01"})
    page = api.get("/api/exchange-rates", limit=2).json()
    assert [(r["currency"], r["valid_from"]) for r in page["items"]] == [
        ("GBP", "2026-06-01"),
        ("USD", "2026-06-01"),
    ]
    rest = api.get("/api/exchange-rates", limit=2, cursor=page["next_cursor"]).json()
    assert [(r["currency"], r["valid_from"]) for r in rest["items"]] == [("USD", "2026-01-01")]
    assert rest["next_cursor"] is None
    assert api.delete(f"/api/pipelines/{pipeline['id']}").status_code == 204
