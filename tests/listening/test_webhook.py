"""The inbound JSON webhook: HMAC over timestamp and body, replays refused, bad JSON named,
idempotent on the external id."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from kith.listening import pipeline, services
from kith.listening.models import Mention, Source
from kith.listening.payloads import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _neutral(monkeypatch):
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("negative", 0.8)] * len(texts))


@pytest.fixture
def hook(alice):
    made = services.create_source(actor=alice, data={"kind": "webhook", "name": "Hook"})
    return made.source, made.webhook_secret


def post(
    source: Source, body: bytes, *, secret: str, ts: int | None = None, sig: str | None = None
):
    ts = int(time.time()) if ts is None else ts
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sig or sign(secret, ts, body)}
    return Client().post(
        f"/api/listening/webhooks/{source.public_id}",
        data=body,
        content_type="application/json",
        headers=headers,
    )


ITEM = {
    "id": "p-1",
    "text": "The app is <b>broken</b> again",
    "author_handle": "@ana@m.social",
    "channel": "mastodon",
    "published_at": "2026-11-20T10:00:00Z",
    "author_followers": 120,
}


def test_secret_is_random_per_source_shown_once_and_not_stored(hook, alice):
    source, secret = hook
    other = services.create_source(actor=alice, data={"kind": "webhook", "name": "Other"})
    assert secret.startswith("whsec_") and len(secret) > 40
    assert other.webhook_secret != secret
    row = Source.objects.filter(pk=source.pk).values().get()
    assert secret not in json.dumps(row, default=str)


def test_signed_item_is_ingested_once_and_replays_of_it_are_duplicates(hook):
    source, secret = hook
    body = json.dumps({"items": [ITEM]}).encode()
    first = post(source, body, secret=secret)
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 1
    again = post(source, body, secret=secret)  # a sender retrying inside the window
    assert again.status_code == 200 and again.json() == {
        **again.json(),
        "created": 0,
        "duplicates": 1,
    }
    m = Mention.objects.get()
    assert (m.external_id, m.text, m.channel) == ("p-1", "The app is broken again", "mastodon")


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("signature", "bad_signature"),
        ("body", "bad_signature"),
        ("old", "stale_timestamp"),
        ("future", "stale_timestamp"),
        ("missing", "bad_signature"),
        ("other_secret", "bad_signature"),
    ],
)
def test_bad_or_replayed_signatures_are_401_with_a_code_and_store_nothing(hook, tamper, code):
    source, secret = hook
    body = json.dumps(ITEM).encode()
    now = int(time.time())
    if tamper == "signature":
        r = post(source, body, secret=secret, sig="sha256=" + "0" * 64)
    elif tamper == "body":
        r = post(source, body, secret=secret, sig=sign(secret, now, b'{"id":"x","text":"y"}'))
    elif tamper == "old":
        r = post(source, body, secret=secret, ts=now - 301)
    elif tamper == "future":
        r = post(source, body, secret=secret, ts=now + 400)
    elif tamper == "other_secret":
        r = post(source, body, secret="whsec_guess")
    else:
        r = Client().post(
            f"/api/listening/webhooks/{source.public_id}",
            data=body,
            content_type="application/json",
        )
    assert r.status_code == 401, r.content
    assert r.json()["code"] == code
    assert not Mention.objects.exists()


def test_rotating_the_secret_retires_the_old_one(hook, alice):
    source, secret = hook
    new = services.rotate_webhook_secret(actor=alice, source=source).webhook_secret
    body = json.dumps(ITEM).encode()
    assert post(source, body, secret=secret).status_code == 401
    assert post(source, body, secret=new).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"items": 3}', "items"),
        (b'{"items": []}', "items"),
        (b'{"items": [{"id": "1"}]}', "items[0].text"),
        (
            b'{"items": [{"id": "1", "text": "x", "published_at": "yesterday"}]}',
            "items[0].published_at",
        ),
        (
            b'{"items": [{"id": "1", "text": "x", "author_followers": -3}]}',
            "items[0].author_followers",
        ),
        (b'[{"id": "1", "text": "ok"}, {"text": "no id"}]', "items[1].id"),
        (b'{"text": "x", "id": {"a": 1}}', "id"),
        (b'"just a string"', "item"),
    ],
)
def test_bad_json_is_400_naming_the_field_and_nothing_is_stored(hook, body, field):
    source, secret = hook
    r = post(source, body, secret=secret)
    assert r.status_code == 400, r.content
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert not Mention.objects.exists()


def test_unknown_disabled_or_non_webhook_sources_are_404(hook, alice):
    source, secret = hook
    body = json.dumps(ITEM).encode()
    ts = int(time.time())
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}
    for path in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        r = Client().post(
            f"/api/listening/webhooks/{path}",
            data=body,
            content_type="application/json",
            headers=headers,
        )
        assert r.status_code == 404
    services.update_source(actor=alice, source=source, data={"enabled": False})
    assert post(source, body, secret=secret).status_code == 404
    feed = services.create_source(
        actor=alice,
        data={"kind": "feed", "name": "Feed", "config": {"url": "https://feeds.example.com/a.xml"}},
    ).source
    assert post(feed, body, secret=secret).status_code == 404


def test_with_redis_the_webhook_answers_202_and_queues_the_batch(hook, settings, monkeypatch):
    from kith.listening import streams

    source, secret = hook
    settings.REDIS_URL = "redis://example.invalid:6379/0"
    sent = []
    monkeypatch.setattr(streams, "publish", lambda sid, items: sent.append((sid, items)) or "1-0")
    r = post(source, json.dumps(ITEM).encode(), secret=secret)
    assert r.status_code == 202 and r.json() == {"queued": "1-0"}
    assert sent[0][0] == source.pk and sent[0][1][0].external_id == "p-1"
    assert not Mention.objects.exists()
