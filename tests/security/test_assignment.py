"""Mass assignment: who may set owner, team, visibility, assignee, organizer and
follower, enforced in the services (kith.accounts.assignment), seen through the API."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Team
from kith.collab import services as collab_services
from kith.core.errors import Forbidden, NotFound
from kith.people import services as people_services
from kith.people.services import PartyInput
from kith.sales import services as sales_services
from kith.service import services as service_services
from kith.work import services as work_services
from tests.conftest import ApiClient, make_person


@pytest.fixture
def teams(bob):
    mine = Team.objects.create(name="Bob's team")
    mine.members.add(bob)
    return {"mine": mine, "other": Team.objects.create(name="Not bob's")}


def _fields(response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


# ---------------------------------------------------------------- people


def test_agent_cannot_make_another_user_owner_of_a_new_person(bob, dan):
    response = ApiClient(bob).post(
        "/api/people", {"given_name": "Ana", "owner": "dan", "visibility": "private"}
    )
    assert response.status_code == 403
    assert _fields(response) == {"owner"}
    with pytest.raises(Forbidden):
        make_person(bob, owner=dan)


def test_agent_may_own_records_and_use_their_own_team(bob, teams):
    response = ApiClient(bob).post(
        "/api/people",
        {"given_name": "Ana", "owner": "bob", "team": teams["mine"].name, "visibility": "team"},
    )
    assert response.status_code == 201, response.content


def test_agent_cannot_use_a_team_they_are_not_in(bob, teams):
    response = ApiClient(bob).post(
        "/api/people", {"given_name": "Ana", "team": teams["other"].name, "visibility": "team"}
    )
    assert response.status_code == 403
    assert _fields(response) == {"team"}


def test_agent_cannot_take_over_or_hide_anothers_record(alice, bob, dan):
    shared = make_person(dan, given="Shared", owner=dan)  # visible to everyone, dan's
    api = ApiClient(bob)
    taken = api.patch(f"/api/people/{shared.public_id}", {"owner": "bob"})
    assert taken.status_code == 403
    hidden = api.patch(f"/api/people/{shared.public_id}", {"visibility": "private"})
    assert hidden.status_code == 403
    assert _fields(hidden) == {"visibility"}
    shared.refresh_from_db()
    assert (shared.owner_id, shared.visibility) == (dan.pk, "everyone")
    # An edit that re-sends today's values hands nothing over and goes through.
    same = api.patch(f"/api/people/{shared.public_id}", {"owner": "dan", "notes": "ok"})
    assert same.status_code == 200, same.content


def test_managers_may_hand_records_to_anyone(mia, bob, teams):
    person = make_person(mia, owner=bob, team=teams["other"], visibility="team")
    assert (person.owner_id, person.team_id) == (bob.pk, teams["other"].pk)
    people_services.update_party(
        actor=mia, party=person, data=PartyInput(kind="person", fields={}, owner=mia)
    )
    person.refresh_from_db()
    assert person.owner_id == mia.pk


def test_customer_login_cannot_own_a_record(alice, carol):
    response = ApiClient(alice).post("/api/people", {"given_name": "Ana", "owner": "carol"})
    assert response.status_code == 422
    assert _fields(response) == {"owner"}


# ---------------------------------------------------------------- deals


def test_agent_cannot_give_a_deal_to_another_user_or_foreign_team(alice, bob, dan, teams):
    ana = make_person(alice)
    api = ApiClient(bob)
    base = {"title": "Deal", "person": str(ana.public_id)}
    assert api.post("/api/deals", {**base, "owner": "dan"}).status_code == 403
    foreign = api.post("/api/deals", {**base, "team": teams["other"].name, "visibility": "team"})
    assert foreign.status_code == 403
    assert _fields(foreign) == {"team"}
    mine = api.post("/api/deals", {**base, "team": teams["mine"].name, "visibility": "team"})
    assert mine.status_code == 201, mine.content
    deal = sales_services.create_deal(actor=dan, data={"title": "Dan's", "person": ana})
    with pytest.raises(Forbidden):
        sales_services.update_deal(actor=bob, deal=deal, data={"owner": bob})
    with pytest.raises(Forbidden):
        sales_services.update_deal(actor=bob, deal=deal, data={"visibility": "private"})
    sales_services.update_deal(actor=alice, deal=deal, data={"owner": bob})
    deal.refresh_from_db()
    assert deal.owner_id == bob.pk


# ---------------------------------------------------------------- cases


def test_agent_assigns_cases_to_themselves_or_their_queue_only(alice, bob, dan, mia):
    ana = make_person(alice)
    queue = service_services.create_queue(actor=alice, name="Support", agents=[bob, dan])
    case = service_services.create_case(
        actor=alice, data=service_services.CaseInput(subject="Help", requester=ana, queue=queue)
    )
    api = ApiClient(bob)
    outside = api.post(f"/api/cases/{case.public_id}/assignment", {"assignee": "mia"})
    assert outside.status_code == 403
    assert _fields(outside) == {"assignee"}
    assert (
        api.post(f"/api/cases/{case.public_id}/assignment", {"assignee": "dan"}).status_code == 200
    )
    assert (
        api.post(f"/api/cases/{case.public_id}/assignment", {"assignee": "bob"}).status_code == 200
    )
    created = api.post(
        "/api/cases",
        {
            "subject": "x",
            "requester": str(ana.public_id),
            "queue": str(queue.public_id),
            "assignee": "mia",
        },
    )
    assert created.status_code == 403
    service_services.assign_case(actor=alice, case=case, assignee=mia)  # managers: anyone


# ---------------------------------------------------------------- meetings and follows


def test_agent_organises_meetings_only_in_their_own_name(alice, bob, dan):
    start = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    data = work_services.MeetingInput(
        title="Sync", start=start, end=start + dt.timedelta(hours=1), organizer=dan
    )
    with pytest.raises(Forbidden):
        work_services.create_meeting(actor=bob, data=data)
    meeting = work_services.create_meeting(actor=alice, data=data)
    assert meeting.organizer_id == dan.pk


def test_agent_cannot_invite_a_customer_to_a_record_feed(alice, bob, mia, carol):
    ana = make_person(alice)
    response = ApiClient(bob).post(
        f"/api/feeds/person/{ana.public_id}/follow", {"follower": "carol"}
    )
    assert response.status_code == 403
    assert _fields(response) == {"follower"}
    row, _ = collab_services.follow(actor=mia, target=ana, follower=carol)
    assert row.is_external


# ---------------------------------------------------------------- tokens


def test_customer_cannot_mint_api_tokens(carol, bob):
    response = ApiClient(carol).post("/api/tokens", {"name": "mine"})
    assert response.status_code == 404
    with pytest.raises(NotFound):
        account_services.issue_token(actor=carol, user=carol, name="x")
    with pytest.raises(NotFound):
        account_services.issue_token(actor=bob, user=carol, name="x")
    assert not carol.api_tokens.exists()


def test_only_admins_issue_tokens_for_someone_else(alice, bob, dan):
    with pytest.raises(Forbidden):
        account_services.issue_token(actor=bob, user=dan, name="x")
    account_services.issue_token(actor=alice, user=dan, name="ops")
    assert dan.api_tokens.count() == 1
