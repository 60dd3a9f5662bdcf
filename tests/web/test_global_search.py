"""Search everything (the command palette and GET /api/search): one box, every kind of
record, grouped — and never a record the user may not see."""

from __future__ import annotations

import pytest

from kith.accounts.models import Role
from kith.sales import services as sales_services
from kith.service import services as service_services
from kith.web import global_search
from kith.work import services as work_services
from kith.work.models import ActivityType
from tests.conftest import ApiClient, client_for, make_org, make_person


@pytest.fixture
def world(alice, bob, dan):
    acme = make_org(alice, "Zephyr Industries")
    ana = make_person(alice, given="Ana", family="Zephyrine")
    hidden = make_person(dan, given="Private", family="Zephyrsson", owner=dan, visibility="private")
    deal = sales_services.create_deal(
        actor=alice, data={"title": "Zephyr platform renewal", "organization": acme}
    )
    dans_deal = sales_services.create_deal(
        actor=dan,
        data={
            "title": "Zephyr secret expansion",
            "person": hidden,
            "owner": dan,
            "visibility": "private",
        },
    )
    only_dan = service_services.create_queue(actor=alice, name="Dan only", agents=[dan])
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Zephyr printer jammed", requester=ana),
    )
    queued = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(
            subject="Zephyr refund dispute", requester=ana, queue=only_dan
        ),
    )
    activity = work_services.create_activity(
        actor=alice,
        type=ActivityType.objects.get(slug="call"),
        summary="Call Zephyr about the renewal",
        record=ana,
    )
    return {
        "acme": acme,
        "ana": ana,
        "hidden": hidden,
        "deal": deal,
        "dans_deal": dans_deal,
        "case": case,
        "queued": queued,
        "activity": activity,
    }


def _titles(groups) -> dict[str, list[str]]:
    return {g.key: [h.title for h in g.hits] for g in groups}


def test_one_query_finds_every_kind_grouped(alice, world):
    found = _titles(global_search.search_everything(alice, "zephyr"))
    assert "Zephyr Industries" in found["organizations"]
    assert "Ana Zephyrine" in found["people"]
    assert "Zephyr platform renewal" in found["deals"]
    assert f"#{world['case'].number} Zephyr printer jammed" in found["cases"]
    assert "Call Zephyr about the renewal" in found["activities"]
    # Several words must all match; a case is found by its number too.
    assert _titles(global_search.search_everything(alice, "platform zephyr"))["deals"] == [
        "Zephyr platform renewal"
    ]
    by_number = _titles(global_search.search_everything(alice, f"#{world['case'].number}"))
    assert by_number["cases"] == [f"#{world['case'].number} Zephyr printer jammed"]


def test_records_the_user_may_not_see_are_never_hits(bob, vic, dan, world):
    for user in (bob, vic):
        text = repr(_titles(global_search.search_everything(user, "zephyr")))
        assert "Zephyrsson" not in text and "secret expansion" not in text
    # The queued case shows to the queue's agent only (the viewer is in no queue).
    vic_cases = _titles(global_search.search_everything(vic, "zephyr")).get("cases", [])
    assert not any("refund dispute" in t for t in vic_cases)
    dans = repr(_titles(global_search.search_everything(dan, "zephyr")))
    assert "Zephyrsson" in dans and "secret expansion" in dans and "refund dispute" in dans


def test_customers_and_empty_queries_get_nothing(alice, carol, world):
    assert global_search.search_everything(carol, "zephyr") == []
    assert global_search.search_everything(alice, "   ") == []


def test_a_failing_provider_is_skipped_not_fatal(alice, world, monkeypatch):
    def broken(user, q, limit):
        raise RuntimeError("index down")

    monkeypatch.setattr(global_search, "_PROVIDERS", list(global_search._PROVIDERS))
    global_search.register("deals", "Deals", broken)
    found = _titles(global_search.search_everything(alice, "zephyr"))
    assert "deals" not in found and "Ana Zephyrine" in found["people"]


def test_search_page_palette_fragment_and_api(alice, bob, carol, world):
    page = client_for(alice).get("/search/", {"q": "zephyr"})
    body = page.content.decode()
    assert page.status_code == 200 and "Zephyr platform renewal" in body
    assert f'href="/sales/deals/{world["deal"].public_id}/"' in body
    fragment = client_for(alice).get("/search/", {"q": "zephyr"}, HTTP_HX_REQUEST="true")
    assert (
        "<html" not in fragment.content.decode()
        and "Zephyr Industries" in fragment.content.decode()
    )
    api = ApiClient(bob).get("/api/search", q="zephyr")
    assert api.status_code == 200
    data = api.json()
    keys = [g["key"] for g in data["groups"]]
    assert "deals" in keys and "secret expansion" not in api.content.decode()
    assert ApiClient(bob).get("/api/search", q="x" * 201).status_code == 422
    assert ApiClient(carol).get("/api/search", q="zephyr").status_code == 404
    assert ApiClient(None).get("/api/search", q="zephyr").status_code == 401
    # A customer's browser is sent to the portal, learning nothing.
    assert client_for(carol).get("/search/", {"q": "zephyr"}).status_code == 302


def test_the_palette_is_on_every_staff_page(alice):
    body = client_for(alice).get("/people/").content.decode()
    assert 'id="palette"' in body and "data-palette-open" in body


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_hostile_queries_answer_cleanly(alice, role, world):
    for q in ("%", "_", "'; drop table x; --", "\x00", "🙂" * 50, "a" * 200):
        response = client_for(alice).get("/search/", {"q": q})
        assert response.status_code in (200, 400), q
