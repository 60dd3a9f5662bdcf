"""CSAT: a signed link lets the requester rate a resolved case once, without logging in."""

from __future__ import annotations

import pytest
from django.core import signing

from kith.interactions.models import Interaction
from kith.service import services
from kith.service.models import CsatResponse, Status


@pytest.fixture
def resolved(alice, bob, new_case):
    case = new_case(assignee=bob)
    return services.change_status(actor=alice, case=case, status=Status.RESOLVED)


def test_rate_via_public_api(client, resolved, ana):
    token = services.csat_token(resolved)
    info = client.get(f"/api/csat/{token}")
    assert info.status_code == 200 and info.json()["rated"] is False
    r = client.post(
        f"/api/csat/{token}", {"rating": 5, "comment": "Great"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    response = CsatResponse.objects.get(case=resolved)
    assert response.rating == 5 and response.agent.username == "bob"
    assert Interaction.objects.filter(party=ana, kind="csat").exists()
    again = client.post(f"/api/csat/{token}", {"rating": 1}, content_type="application/json")
    assert again.status_code == 409


def test_bad_rating_and_forged_or_expired_token(client, resolved, settings):
    token = services.csat_token(resolved)
    r = client.post(f"/api/csat/{token}", {"rating": 9}, content_type="application/json")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rating"
    assert client.get(f"/api/csat/{token}x").status_code == 404
    forged = signing.TimestampSigner(salt="other").sign(str(resolved.public_id))
    assert client.get(f"/api/csat/{forged}").status_code == 404
    old = signing.TimestampSigner(salt=services.CSAT_SALT)
    import time
    from unittest import mock

    with mock.patch.object(time, "time", return_value=time.time() - services.CSAT_MAX_AGE - 60):
        expired = old.sign(str(resolved.public_id))
    assert client.get(f"/api/csat/{expired}").status_code == 404


def test_unresolved_case_cannot_be_rated(client, new_case):
    token = services.csat_token(new_case())
    r = client.post(f"/api/csat/{token}", {"rating": 4}, content_type="application/json")
    assert r.status_code == 409


def test_invite_mailed_on_resolution(
    alice, new_case, mailoutbox, django_capture_on_commit_callbacks
):
    case = new_case()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(actor=alice, case=case, status=Status.RESOLVED)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ana@example.com"]
    token = services.csat_token(case)
    assert f"/service/csat/{token}/" in mailoutbox[0].body


def test_results_per_agent_and_queue(api_as, alice, bob, dan, new_case, client, other_queue):
    for assignee, rating, queue in ((bob, 5, None), (bob, 3, None), (dan, 1, other_queue)):
        kwargs = {"queue": queue} if queue else {}
        case = new_case(assignee=assignee, **kwargs)
        services.change_status(actor=alice, case=case, status=Status.RESOLVED)
        services.submit_csat(token=services.csat_token(case), rating=rating)
    rows = {r["group"]: r for r in api_as(alice).get("/api/csat/results", by="agent").json()}
    assert rows["bob"]["average"] == 4.0 and rows["bob"]["distribution"] == [0, 0, 1, 0, 1]
    assert rows["dan"]["count"] == 1
    queues = {
        r["group"]: r["count"] for r in api_as(alice).get("/api/csat/results", by="queue").json()
    }
    assert queues == {"Support": 2, "Billing": 1}
    # bob only sees his queues' results (plus cases assigned to him)
    assert {r["group"] for r in api_as(bob).get("/api/csat/results").json()} == {"bob"}
    assert api_as(alice).get("/api/csat/results", by="team").status_code == 422
