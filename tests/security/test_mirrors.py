"""A mirror obeys its source: interactions copied from cases, deals, posts and other
records show only to those who may see that record, on every listing of interactions."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.accounts.models import Team
from kith.collab import services as collab_services
from kith.interactions import access as interaction_access
from kith.interactions import queries
from kith.interactions import services as interaction_services
from kith.sales import services as sales_services
from kith.service import services as service_services
from tests.conftest import ApiClient, client_for, make_person

NOTE = "Internal note: customer is litigious, do not refund"


@pytest.fixture
def world(alice, bob, dan, vic):
    ana = make_person(alice, given="Ana", family="Lima")  # everyone may see Ana
    queue = service_services.create_queue(actor=alice, name="Support", agents=[bob])
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Broken", requester=ana, queue=queue),
    )
    service_services.add_message(actor=alice, case=case, kind="note", body=NOTE)
    # A private deal of dan's, won: "Deal won" lands on Ana's timeline.
    deal = sales_services.create_deal(
        actor=dan,
        data={"title": "Secret expansion", "person": ana, "visibility": "private", "owner": dan},
    )
    interaction_services.log_interaction(
        actor=dan,
        party=ana,
        channel="system",
        direction="internal",
        kind="deal_won",
        summary="Won Secret expansion",
        related=deal,
    )
    return {"ana": ana, "case": case, "deal": deal}


def _timeline_summaries(user, party) -> list[str]:
    page = queries.timeline(party, reader=user, limit=100)
    return [e.item.summary for e in page.entries if e.type == "interaction"]


def test_internal_note_hidden_from_viewer_in_no_queue_everywhere(world, vic, alice, bob):
    ana = world["ana"]
    assert any(NOTE in s for s in _timeline_summaries(alice, ana))
    assert any(NOTE in s for s in _timeline_summaries(bob, ana))  # bob is in the queue
    assert not any(NOTE in s for s in _timeline_summaries(vic, ana))

    api = ApiClient(vic)
    timeline = api.get(f"/api/people/{ana.public_id}/timeline", limit=100)
    assert timeline.status_code == 200
    assert NOTE not in timeline.content.decode()
    listing = api.get("/api/interactions", limit=100)
    assert listing.status_code == 200
    assert NOTE not in listing.content.decode()
    by_party = api.get("/api/interactions", party=str(ana.public_id))
    assert NOTE not in by_party.content.decode()
    note = world["case"].messages.get(kind="note").interaction
    assert api.get(f"/api/interactions/{note.public_id}").status_code == 404
    # The same interaction is there for bob: the 404 is the rule, not a broken id.
    assert ApiClient(bob).get(f"/api/interactions/{note.public_id}").status_code == 200

    page = client_for(vic).get(f"/people/{ana.public_id}/")
    assert page.status_code == 200
    assert NOTE not in page.content.decode()
    fragment = client_for(vic).get(f"/people/{ana.public_id}/timeline/")
    assert NOTE not in fragment.content.decode()
    assert NOTE in client_for(bob).get(f"/people/{ana.public_id}/").content.decode()


def test_private_deal_event_hidden_from_other_agent(world, bob, dan, mia):
    ana = world["ana"]
    assert "Won Secret expansion" not in _timeline_summaries(bob, ana)
    assert "Won Secret expansion" in _timeline_summaries(dan, ana)
    assert "Won Secret expansion" in _timeline_summaries(mia, ana)
    body = ApiClient(bob).get("/api/interactions", limit=100).content.decode()
    assert "Secret expansion" not in body


def test_deal_timeline_hides_case_notes_of_its_contacts(world, alice, vic):
    deal = sales_services.create_deal(
        actor=alice, data={"title": "Open deal", "person": world["ana"]}
    )
    body = ApiClient(vic).get(f"/api/deals/{deal.public_id}/timeline").content.decode()
    assert NOTE not in body
    assert NOTE in ApiClient(alice).get(f"/api/deals/{deal.public_id}/timeline").content.decode()


def test_mention_of_person_on_internal_post_of_hidden_deal(world, alice, dan, bob):
    """A mention on a post about dan's private deal lands on Ana's timeline (she has no
    login); bob, who cannot see the deal, must not read it there."""
    ana = world["ana"]
    collab_services.create_post(
        actor=dan,
        target=world["deal"],
        body=f"Ask @[Ana](person:{ana.public_id}) about the secret budget",
        visibility="internal",
    )
    assert any("secret budget" in s for s in _timeline_summaries(dan, ana))
    assert not any("secret budget" in s for s in _timeline_summaries(bob, ana))


def test_unregistered_kind_is_hidden_except_from_admins_and_managers(world, alice, mia, bob, vic):
    ana = world["ana"]
    team = Team.objects.create(name="Ops")
    interaction_services.log_interaction(
        actor=alice,
        party=ana,
        channel="system",
        summary="Mirror of a kind nobody registered",
        related=team,
    )
    for user in (alice, mia):
        assert "Mirror of a kind nobody registered" in _timeline_summaries(user, ana)
    for user in (bob, vic):
        assert "Mirror of a kind nobody registered" not in _timeline_summaries(user, ana)


def test_plain_interactions_stay_visible(world, vic):
    ana = world["ana"]
    interaction_services.log_interaction(
        actor=None,
        party=ana,
        channel="call",
        summary="Called about the invoice",
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    assert "Called about the invoice" in _timeline_summaries(vic, ana)


def test_customer_sees_no_mirrors_and_no_staff_interactions(world, carol):
    assert interaction_access.scope_interactions(carol).count() == 0
    assert ApiClient(carol).get("/api/interactions").status_code == 404  # not her API


def test_every_app_that_mirrors_registered_its_kind():
    registered = interaction_access.registered_mirrors()
    for label in (
        "service.case",
        "sales.deal",
        "collab.post",
        "collab.comment",
        "work.activity",
        "work.meeting",
    ):
        assert label in registered, f"{label} mirrors interactions but registered no rule"
