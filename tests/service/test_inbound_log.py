"""The inbound-mail log: what became of each message, for managers and admins."""

from __future__ import annotations

from pathlib import Path

import pytest

from kith.service import inbound
from kith.service.models import InboundMail
from tests.conftest import login

DATA = Path(__file__).parent / "data"


@pytest.fixture
def logged(queue, policies, tmp_media):
    for name in ("multipart_alternative.eml", "auto_reply.eml", "bounce.eml"):
        inbound.ingest_email(raw=(DATA / name).read_bytes(), source="test")
    return list(InboundMail.objects.order_by("-created_at", "-id"))


def test_managers_list_inbound_mail_newest_first_and_by_outcome(api_as, mia, logged):
    api = api_as(mia)
    body = api.get("/api/inbound-mail").json()
    assert [m["id"] for m in body["items"]] == [str(m.public_id) for m in logged]
    created = [m for m in body["items"] if m["outcome"] == "created"]
    assert len(created) == 1 and created[0]["case"] is not None
    only = api.get("/api/inbound-mail", outcome="bounce").json()["items"]
    assert [m["outcome"] for m in only] == ["bounce"] and only[0]["case"] is None
    page = api.get("/api/inbound-mail", limit=2).json()
    rest = api.get("/api/inbound-mail", limit=2, cursor=page["next_cursor"]).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1


def test_bad_outcome_is_a_422_on_the_field(api_as, alice, logged):
    r = api_as(alice).get("/api/inbound-mail", outcome="lost")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"


@pytest.mark.parametrize("who", ["bob", "vic", "carol"])
def test_agents_viewers_and_customers_cannot_read_the_log(request, api_as, who, logged):
    r = api_as(request.getfixturevalue(who)).get("/api/inbound-mail")
    assert r.status_code in (403, 404)


def _settings_page(user) -> str:
    return login(user).get("/service/settings/").content.decode()


def test_settings_page_shows_the_log_to_managers_only(mia, bob, logged):
    subject = logged[-1].subject
    assert subject
    html = _settings_page(mia)
    assert "Inbound mail" in html and subject in html and "Ignored: bounce" in html
    html = _settings_page(bob)
    assert "Inbound mail" not in html and "Ignored: bounce" not in html
