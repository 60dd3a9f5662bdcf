"""The permission matrix: each role against each endpoint.

Invisible records answer 404 (never 403) so ids cannot be probed; visible but
read-only ones answer 403 on writes.
"""

import pytest

from kith.accounts import services as account_services
from kith.people import services
from tests.conftest import ApiClient, make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alice, mia, bob, dan, vic, carol):
    team = account_services.create_team(actor=alice, name="Berlin", members=[bob])
    acme = make_org(alice, "Acme")
    public = make_person(alice, given="Pat", family="Public", email="pat@example.com")
    dans_private = make_person(dan, given="Dora", family="Private", owner=dan, visibility="private")
    bobs_private = make_person(bob, given="Bea", family="Own", owner=bob, visibility="private")
    team_record = make_person(
        alice, given="Tim", family="Team", owner=alice, visibility="team", team=team
    )
    return {
        "acme": acme,
        "public": public,
        "dans_private": dans_private,
        "bobs_private": bobs_private,
        "team": team_record,
        "carol": carol.person,
    }


READ_ENDPOINTS = [
    "/api/people/{id}",
    "/api/people/{id}/timeline",
    "/api/parties/{id}/contact-points",
    "/api/parties/{id}/relationships",
    "/api/parties/{id}/duplicates",
]


def _read(user, record):
    api = ApiClient(user)
    return {path: api.get(path.format(id=record.public_id)).status_code for path in READ_ENDPOINTS}


@pytest.mark.parametrize(
    "who,record,expected",
    [
        ("alice", "dans_private", 200),
        ("mia", "dans_private", 200),
        ("bob", "public", 200),
        ("bob", "bobs_private", 200),
        ("bob", "dans_private", 404),
        ("bob", "team", 200),
        ("dan", "team", 404),
        ("vic", "public", 200),
        ("vic", "dans_private", 404),
        ("carol", "public", 404),
        ("carol", "dans_private", 404),
        ("carol", "carol", 404),  # the staff API is not the portal, even for her own record
    ],
)
def test_read_matrix(request, world, who, record, expected):
    user = request.getfixturevalue(who)
    assert set(_read(user, world[record]).values()) == {expected}


def test_lists_only_show_visible_records(world, bob, dan, carol, alice):
    def names(user):
        return {
            p["display_name"] for p in ApiClient(user).get("/api/people", limit=200).json()["items"]
        }

    assert "Dora Private" not in names(bob)
    assert {"Bea Own", "Tim Team", "Pat Public"} <= names(bob)
    assert "Bea Own" not in names(dan) and "Tim Team" not in names(dan)
    # A customer's login finds no staff list at all (404), not even an empty one.
    assert ApiClient(carol).get("/api/people", limit=200).status_code == 404
    assert "Dora Private" in names(alice)


def test_searching_does_not_leak_private_records(world, bob):
    found = ApiClient(bob).get("/api/people", q="Dora").json()["items"]
    assert found == []


WRITES = [
    ("post", "/api/people", {"given_name": "New"}),
    ("patch", "/api/people/{id}", {"title": "Boss"}),
    ("post", "/api/parties/{id}/contact-points", {"channel": "email", "value": "x{n}@example.com"}),
    ("post", "/api/parties/{id}/relationships", {"role": "customer"}),
    ("post", "/api/parties/{id}/interactions", {"channel": "call", "summary": "Called"}),
    (
        "post",
        "/api/parties/{id}/transactions",
        {"kind": "order", "amount": "10.00", "currency": "EUR"},
    ),
]


def _write(user, method, path, body, record, n=0):
    api = ApiClient(user)
    path = path.format(id=record.public_id)
    body = {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in body.items()}
    return getattr(api, method)(path, body).status_code


@pytest.mark.parametrize("method,path,body", WRITES)
def test_viewer_cannot_write(world, vic, method, path, body):
    assert _write(vic, method, path, body, world["public"]) == 403


@pytest.mark.parametrize("method,path,body", WRITES)
def test_portal_user_cannot_write_through_the_staff_api(world, carol, method, path, body):
    status = _write(carol, method, path, body, world["carol"])
    assert status in (403, 404)


@pytest.mark.parametrize("method,path,body", WRITES[1:])
def test_agent_cannot_write_another_agents_private_record(world, bob, method, path, body):
    assert _write(bob, method, path, body, world["dans_private"]) == 404


@pytest.mark.parametrize("method,path,body", WRITES)
def test_agent_writes_visible_records(world, bob, method, path, body):
    assert _write(bob, method, path, body, world["public"], n=1) in (200, 201)


def test_only_managers_delete(world, bob, mia):
    path = f"/api/people/{world['public'].public_id}"
    assert ApiClient(bob).delete(path).status_code == 403
    assert ApiClient(mia).delete(path).status_code == 204
    assert ApiClient(mia).get(path).status_code == 404


def test_anonymous_gets_401(world):
    assert ApiClient(None).get("/api/people").status_code == 401
    assert ApiClient(None).get(f"/api/people/{world['public'].public_id}").status_code == 401


def test_revoked_or_bad_tokens_are_refused(world, bob):
    token, secret = account_services.issue_token(actor=bob, user=bob, name="laptop")
    client = ApiClient(None)
    client.headers["Authorization"] = f"Bearer {secret}"
    assert client.get("/api/me").json()["username"] == "bob"
    account_services.revoke_token(actor=bob, token=token)
    assert client.get("/api/me").status_code == 401
    client.headers["Authorization"] = f"Bearer {secret[:-2]}xx"
    assert client.get("/api/me").status_code == 401


def test_merge_needs_change_rights_on_both(world, bob, vic):
    keep, absorb = world["public"], world["dans_private"]
    path = f"/api/parties/{keep.public_id}/merge"
    assert ApiClient(bob).post(path, {"absorb": str(absorb.public_id)}).status_code == 404
    assert ApiClient(vic).post(path, {"absorb": str(world["team"].public_id)}).status_code == 403


def test_services_do_not_check_roles_but_access_does(world, vic):
    # Access lives in one layer: services trust their caller, so the API must ask access first.
    from kith.core.errors import Forbidden
    from kith.people import access

    with pytest.raises(Forbidden):
        access.get_party_for_change(vic, world["public"].public_id)
    services.update_party(
        actor=None, party=world["public"], data=services.PartyInput(fields={"title": "ok"})
    )
