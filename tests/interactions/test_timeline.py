"""The unified timeline: interactions and transactions, newest first, paginated, idempotent."""

import datetime as dt

import pytest

from kith.interactions import services
from kith.interactions.models import Interaction
from kith.people import services as people_services
from tests.conftest import ApiClient, make_org, make_person

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def ana(alice):
    person = make_person(alice)
    for day, channel in [(1, "email"), (3, "call"), (5, "social"), (7, "email"), (9, "meeting")]:
        services.log_interaction(
            actor=alice,
            party=person,
            channel=channel,
            summary=f"{channel} on {day}",
            occurred_at=at(day),
        )
    services.record_transaction(
        actor=alice,
        party=person,
        kind="order",
        amount="120.00",
        currency="EUR",
        occurred_at=at(4),
        reference="SO-1",
    )
    services.record_transaction(
        actor=alice,
        party=person,
        kind="refund",
        amount="20.00",
        currency="EUR",
        occurred_at=at(8),
        reference="RF-1",
    )
    return person


def test_newest_first_with_transactions_beside_interactions(alice, ana):
    items = ApiClient(alice).get(f"/api/people/{ana.public_id}/timeline").json()["items"]
    assert [i["occurred_at"][:10] for i in items] == [
        "2025-01-09",
        "2025-01-08",
        "2025-01-07",
        "2025-01-05",
        "2025-01-04",
        "2025-01-03",
        "2025-01-01",
    ]
    refund = items[1]
    assert (
        refund["type"] == "transaction"
        and refund["amount"] == "20.00"
        and refund["kind"] == "refund"
    )


def test_cursor_pages_walk_the_whole_timeline_once(alice, ana):
    api = ApiClient(alice)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/api/people/{ana.public_id}/timeline", **params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7


def test_ties_on_the_same_instant_are_not_lost(alice):
    person = make_person(alice, given="Tie")
    for n in range(5):
        services.log_interaction(
            actor=alice, party=person, channel="chat", summary=f"m{n}", occurred_at=at(2)
        )
    api = ApiClient(alice)
    first = api.get(f"/api/people/{person.public_id}/timeline", limit=3).json()
    second = api.get(
        f"/api/people/{person.public_id}/timeline", limit=3, cursor=first["next_cursor"]
    ).json()
    summaries = [i["summary"] for i in first["items"] + second["items"]]
    assert sorted(summaries) == [f"m{n}" for n in range(5)]


def test_channel_filter(alice, ana):
    api = ApiClient(alice)
    items = api.get(f"/api/people/{ana.public_id}/timeline", channel="email").json()["items"]
    assert [i["summary"] for i in items] == ["email on 7", "email on 1"]
    items = api.get(f"/api/people/{ana.public_id}/timeline", channel="commerce").json()["items"]
    assert {i["type"] for i in items} == {"transaction"}
    assert api.get(f"/api/people/{ana.public_id}/timeline", channel="pigeon").status_code == 422


def test_organisation_timeline_includes_its_people(alice, ana):
    acme = make_org(alice, "Acme")
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    services.log_interaction(
        actor=alice, party=acme, channel="letter", summary="Contract sent", occurred_at=at(10)
    )
    items = ApiClient(alice).get(f"/api/organizations/{acme.public_id}/timeline").json()["items"]
    assert items[0]["summary"] == "Contract sent"
    assert "email on 7" in {i["summary"] for i in items}
    assert {i["party_name"] for i in items} == {"Acme", "Ana Lima"}


def test_ingestion_is_idempotent_on_source_and_external_id(alice, ana):
    api = ApiClient(alice)
    body = {
        "channel": "email",
        "summary": "Re: invoice",
        "source": "imap",
        "external_id": "<msg-1@example.com>",
    }
    first = api.post(f"/api/parties/{ana.public_id}/interactions", body)
    second = api.post(f"/api/parties/{ana.public_id}/interactions", body)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Interaction.objects.filter(source="imap").count() == 1


def test_interactions_are_append_only_through_the_api(alice, ana):
    interaction = Interaction.objects.filter(party=ana).first()
    api = ApiClient(alice)
    assert (
        api.patch(
            f"/api/interactions/{interaction.public_id}", {"summary": "rewritten"}
        ).status_code
        == 405
    )
    assert api.delete(f"/api/interactions/{interaction.public_id}").status_code == 405


def test_interaction_and_transaction_lists_are_scoped(alice, dan, bob):
    hidden = make_person(dan, given="Hidden", owner=dan, visibility="private")
    services.log_interaction(actor=dan, party=hidden, channel="call", summary="secret call")
    services.record_transaction(
        actor=dan, party=hidden, kind="order", amount="5.00", currency="USD"
    )
    assert ApiClient(bob).get("/api/interactions").json()["items"] == []
    assert ApiClient(bob).get("/api/transactions").json()["items"] == []
    assert len(ApiClient(dan).get("/api/interactions").json()["items"]) == 1


def test_organisation_timeline_hides_people_the_reader_cannot_see(alice, bob, dan):
    acme = make_org(alice, "Acme")
    hidden = make_person(dan, given="Hidden", owner=dan, visibility="private")
    people_services.add_relationship(actor=dan, subject=hidden, role="employee", object=acme)
    services.log_interaction(actor=dan, party=hidden, channel="call", summary="private call")
    assert ApiClient(bob).get(f"/api/organizations/{acme.public_id}/timeline").json()["items"] == []
    assert (
        len(ApiClient(dan).get(f"/api/organizations/{acme.public_id}/timeline").json()["items"])
        == 1
    )
