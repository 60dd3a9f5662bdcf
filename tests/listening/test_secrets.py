"""Source secrets never leave Kith: not in API answers, pages, audit rows or outbox events.

A Mastodon access token is a config secret (masked wherever a config is shown); a webhook
source's signing secret is derived, shown once on creation or rotation and nowhere else.
Every source kind is also created with a secret-named key it does not take: the API
refuses it by field name (422) and its value surfaces nowhere either.
"""

from __future__ import annotations

import json

import pytest

from kith.core.models import AuditEntry, OutboxEvent
from kith.listening import sources as kinds
from kith.listening.models import Source, SourceKind
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

TOKEN = "tok-SuperSecret-4f1c9e0a7b"
STRANGER = "stranger-secret-77aa01"

CONFIGS = {
    SourceKind.FEED: {"url": "https://feeds.example.com/rss.xml"},
    SourceKind.MASTODON: {
        "instance": "https://mastodon.example",
        "timeline": "mentions",
        "access_token": TOKEN,
    },
    SourceKind.WEBHOOK: {},
    SourceKind.UPLOAD: {},
    SourceKind.COMMUNITY: {},
    SourceKind.CASE_MAIL: {},
}


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s and s in text]


def _stored_everywhere(secrets: list[str]) -> list[str]:
    """The secrets found in any audit row or outbox payload."""
    found = []
    for changes in AuditEntry.objects.values_list("changes", flat=True):
        found += _leaks(json.dumps(changes, default=str), secrets)
    for data in OutboxEvent.objects.values_list("data", flat=True):
        found += _leaks(json.dumps(data, default=str), secrets)
    return found


def _assert_masked(config: dict) -> None:
    for key in kinds.secret_names():
        if key in config:
            assert config[key] == kinds.SECRET_MASK, key


class TestNoSecretLeaves:
    def test_every_kind_through_api_pages_audit_and_outbox(self, api_as, alice):
        api = api_as(alice)
        web = client_for(alice)
        secrets = [TOKEN, STRANGER]
        shown_once: list[str] = []
        for kind, config in CONFIGS.items():
            # A secret-named key the kind does not take: 422 naming it, value not echoed.
            if kind != SourceKind.MASTODON:
                bad = api.post(
                    "/api/listening/sources",
                    {
                        "kind": kind,
                        "name": f"bad {kind}",
                        "config": {**config, "access_token": STRANGER},
                    },
                )
                assert bad.status_code == 422, (kind, bad.content)
                fields = [e["field"] for e in bad.json()["errors"]]
                assert fields == ["config.access_token"], (kind, fields)
                assert not _leaks(bad.content.decode(), secrets)

            made = api.post(
                "/api/listening/sources", {"kind": kind, "name": f"{kind} source", "config": config}
            )
            assert made.status_code == 201, (kind, made.content)
            body = made.json()
            _assert_masked(body["config"])
            whsec = body.get("webhook_secret") or ""
            if kind == SourceKind.WEBHOOK:
                assert whsec.startswith("whsec_")  # shown once, here
                shown_once.append(whsec)
            assert not _leaks(
                json.dumps({k: v for k, v in body.items() if k != "webhook_secret"}),
                secrets + shown_once,
            )
            sid = body["id"]

            got = api.get(f"/api/listening/sources/{sid}")
            assert got.status_code == 200
            _assert_masked(got.json()["config"])
            # An edit sending the mask back (or leaving the secret out) keeps the secret.
            patched = api.patch(
                f"/api/listening/sources/{sid}",
                {"name": f"{kind} renamed", "config": got.json()["config"]},
            )
            assert patched.status_code == 200, (kind, patched.content)
            _assert_masked(patched.json()["config"])
            page = web.get(f"/listening/sources/{sid}/")
            assert page.status_code == 200
            for text in (got.content.decode(), patched.content.decode(), page.content.decode()):
                assert not _leaks(text, secrets + shown_once), kind

        stored = Source.objects.get(kind=SourceKind.MASTODON)
        assert stored.config["access_token"] == TOKEN  # kept through the masked edit

        # A new token through the API replaces it, and is not shown either.
        new_token = "tok-Rotated-0d5e"
        secrets.append(new_token)
        changed = api.patch(
            f"/api/listening/sources/{stored.public_id}",
            {"config": {**CONFIGS[SourceKind.MASTODON], "access_token": new_token}},
        )
        assert changed.status_code == 200
        assert changed.json()["config"]["access_token"] == kinds.SECRET_MASK
        stored.refresh_from_db()
        assert stored.config["access_token"] == new_token

        hook = Source.objects.get(kind=SourceKind.WEBHOOK)
        rotated = api.post(f"/api/listening/sources/{hook.public_id}/rotate-secret")
        assert rotated.status_code == 200
        shown_once.append(rotated.json()["webhook_secret"])

        listing = api.get("/api/listening/sources")
        assert listing.status_code == 200
        for item in listing.json()["items"]:
            _assert_masked(item["config"])
            assert "webhook_secret" not in item
        pages = [web.get("/listening/sources/"), web.get("/listening/sources/new/")]
        texts = [listing.content.decode()] + [p.content.decode() for p in pages]
        for text in texts:
            assert not _leaks(text, secrets + shown_once)

        # The audit log saw the edits (with the config), the outbox the creations: no secret.
        assert AuditEntry.objects.filter(action="listening.source_updated").count() >= 7
        assert (
            AuditEntry.objects.filter(action="listening.source_updated")
            .exclude(changes={})
            .exists()
        )
        assert _stored_everywhere(secrets + shown_once) == []

    def test_web_form_edit_keeps_and_hides_the_token(self, alice):
        web = client_for(alice)
        api_like = {
            "kind": "mastodon",
            "name": "Masto",
            "instance": "https://mastodon.example",
            "timeline": "mentions",
            "access_token": TOKEN,
            "first_response_minutes": 240,
        }
        made = web.post("/listening/sources/new/", api_like)
        assert made.status_code == 302, made.content.decode()[:2000]
        source = Source.objects.get(name="Masto")
        edit = web.get(f"/listening/sources/{source.public_id}/")
        assert TOKEN not in edit.content.decode()
        # An edit that fails validation re-renders the form: still no token in it.
        bad = web.post(
            f"/listening/sources/{source.public_id}/",
            {**api_like, "instance": "not a url", "access_token": ""},
        )
        assert bad.status_code == 422
        assert TOKEN not in bad.content.decode()
        ok = web.post(
            f"/listening/sources/{source.public_id}/",
            {**api_like, "name": "Masto 2", "access_token": ""},
        )
        assert ok.status_code == 302
        source.refresh_from_db()
        assert source.name == "Masto 2" and source.config["access_token"] == TOKEN
        assert _stored_everywhere([TOKEN]) == []


class TestConfigValidatedOnTheApi:
    @pytest.mark.parametrize(
        ("kind", "config", "fields"),
        [
            ("feed", {}, ["config.url"]),
            ("feed", {"url": "ftp://x.example/feed"}, ["config.url"]),
            (
                "mastodon",
                {"instance": "https://m.example", "timeline": "mentions"},
                ["config.access_token"],
            ),
            (
                "mastodon",
                {"instance": "https://m.example", "timeline": "nope"},
                ["config.timeline"],
            ),
            ("webhook", {"url": "https://x.example"}, ["config.url"]),
            ("community", {"spaces": "help"}, ["config.spaces"]),
        ],
    )
    def test_create_names_the_bad_fields(self, api_as, alice, kind, config, fields):
        r = api_as(alice).post(
            "/api/listening/sources", {"kind": kind, "name": "S", "config": config}
        )
        assert r.status_code == 422, r.content
        assert [e["field"] for e in r.json()["errors"]] == fields
        assert not Source.objects.exists()

    def test_update_names_the_bad_fields_and_changes_nothing(self, api_as, alice):
        api = api_as(alice)
        made = api.post(
            "/api/listening/sources",
            {"kind": "feed", "name": "F", "config": {"url": "https://feeds.example.com/a.xml"}},
        )
        assert made.status_code == 201
        sid = made.json()["id"]
        r = api.patch(f"/api/listening/sources/{sid}", {"name": "G", "config": {"url": ""}})
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["config.url"]
        source = Source.objects.get(public_id=sid)
        assert source.name == "F" and source.config == {"url": "https://feeds.example.com/a.xml"}
