"""Mastodon sources: real Mastodon.py over real HTTP against a scripted local server."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import time

import pytest

from kith.core.errors import ValidationFailed
from kith.listening import sources
from kith.listening.incoming import SourceError
from kith.listening.sources import mastodon
from kith.listening.sources.http import make_http
from tests.listening.fixtures import server as fixture_http
from tests.listening.fixtures.server import Reply, fixture_json

allow_loopback = fixture_http.allow_loopback
_fixture_server = fixture_http._fixture_server
server = fixture_http.server

TAG = "/api/v1/timelines/tag/acme"
TOKEN = "s3cret-token-Zx81"


def config(srv, **extra) -> dict:
    base = {"instance": srv.base, "timeline": "hashtag", "hashtag": "acme"}
    base.update(extra)
    return sources.validate_config("mastodon", base)


def fetch(cfg: dict, state: dict | None = None):
    with make_http() as http:
        return mastodon.fetch(cfg, state or {}, http=http)


def statuses(first_id: int, count: int) -> list[dict]:
    """``count`` statuses, newest first, with ids ``first_id + count - 1`` down to ``first_id``."""
    template = fixture_json("mastodon_tag_acme.json")[0]
    rows = []
    for n in range(count):
        row = copy.deepcopy(template)
        row["id"] = str(first_id + n)
        row["content"] = f"<p>status number {n}</p>"
        rows.append(row)
    return rows[::-1]


def test_hashtag_timeline_first_poll(server):
    server.route(TAG, Reply.json(fixture_json("mastodon_tag_acme.json")))
    result = fetch(config(server))

    assert [m.external_id for m in result.items] == [
        "113500000000000001",
        "113500000000000002",
        "113500000000000003",
    ]  # oldest first
    mixer, cafe, kettle = result.items
    assert kettle.channel == "mastodon"
    assert kettle.author_handle == "@kettlefan@fosstodon.example"
    assert cafe.author_handle == "@ana@127.0.0.1"  # a local account gets the instance's host
    assert kettle.author_followers == 87 and cafe.author_followers == 1520
    assert kettle.author_name == "Kettle Fan"
    assert kettle.text == (
        "My #acme kettle died after 13 months. Support says warranty is 12. Not impressed."
    )
    assert cafe.text.endswith("was lovely & fixed my toaster in 10 minutes.")
    assert (
        mixer.text == "Küchenfrage\n\nIst der neue #acme Mixer laut?"
    )  # the content warning first
    assert mixer.language_hint == "de"
    assert kettle.published_at == dt.datetime(2026, 12, 2, 10, 5, tzinfo=dt.UTC)
    assert kettle.url == "https://fosstodon.example/@kettlefan/113500000000000003"
    assert kettle.raw["tags"] == ["acme"] and kettle.raw["favourites"] == 11
    assert result.state["since_id"] == "113500000000000003"

    (request,) = server.hits(TAG)
    assert request.query["limit"] == ["40"] and "min_id" not in request.query
    assert "authorization" not in request.headers  # public timeline: no token needed


def test_paging_walks_forward_from_since_id_and_nothing_comes_twice(server):
    pages = {
        "1000": statuses(1001, 40),  # a full page: there may be more
        "1040": statuses(1041, 40),
        "1080": statuses(1081, 5),  # the last, short page
    }
    server.route(TAG, lambda seen: Reply.json(pages.get(seen.query.get("min_id", [""])[0], [])))
    result = fetch(config(server), {"since_id": "1000", "hashtag": "acme"})

    ids = [int(m.external_id) for m in result.items]
    assert ids == list(range(1001, 1086))
    assert result.state["since_id"] == "1085"
    assert [r.query["min_id"] for r in server.hits(TAG)] == [["1000"], ["1040"], ["1080"]]

    again = fetch(config(server), result.state)
    assert again.items == [] and again.state["since_id"] == "1085"


def test_paging_stops_after_max_pages_and_resumes_next_poll(server, monkeypatch):
    monkeypatch.setattr(mastodon, "MAX_PAGES", 2)

    def page(seen):
        after = int(seen.query["min_id"][0])
        return Reply.json(statuses(after + 1, 40) if after < 1200 else [])

    server.route(TAG, page)
    first = fetch(config(server), {"since_id": "1000", "hashtag": "acme"})
    assert len(first.items) == 80 and first.state["since_id"] == "1080"
    second = fetch(config(server), first.state)
    assert int(second.items[0].external_id) == 1081 and second.state["since_id"] == "1160"


def test_account_statuses_look_the_account_up_once(server):
    server.route("/api/v1/accounts/lookup", Reply.json(fixture_json("mastodon_account_acme.json")))
    server.route(
        "/api/v1/accounts/1/statuses", Reply.json(fixture_json("mastodon_account_statuses.json"))
    )
    cfg = config(server, timeline="account", account="@acme", hashtag=None)
    first = fetch(cfg)
    assert [m.external_id for m in first.items] == ["113500000000000019", "113500000000000020"]
    assert first.items[1].in_reply_to == "113500000000000003"
    assert first.items[1].author_handle == "@acme@127.0.0.1"
    assert first.items[1].author_followers == 25400
    assert first.state["account_id"] == "1"
    assert server.hits("/api/v1/accounts/lookup")[0].query["acct"] == ["acme"]
    assert server.hits("/api/v1/accounts/1/statuses")[0].query["exclude_reblogs"] == ["1"]

    fetch(cfg, first.state)
    assert len(server.hits("/api/v1/accounts/lookup")) == 1  # the id is kept in the state
    assert server.hits("/api/v1/accounts/1/statuses")[1].query["min_id"] == ["113500000000000020"]


def test_an_unknown_account_is_a_coded_error(server):
    server.route("/api/v1/accounts/lookup", Reply.json({"error": "Record not found"}, status=404))
    with pytest.raises(SourceError) as err:
        fetch(config(server, timeline="account", account="nobody", hashtag=None))
    assert err.value.code == "not_found"


def test_mentions_use_the_token_and_never_show_it(server, caplog):
    server.route("/api/v1/notifications", Reply.json(fixture_json("mastodon_notifications.json")))
    cfg = config(server, timeline="mentions", access_token=TOKEN, hashtag=None)
    with caplog.at_level(logging.DEBUG):
        result = fetch(cfg)
    complaint, _thanks = result.items[::-1]
    assert complaint.external_id == "113500000000000031"
    assert complaint.text == "@acme where is my replacement lid? Case 1182, three weeks now."
    assert complaint.raw["notification_id"] == "88213" and complaint.raw["visibility"] == "direct"
    assert result.state["since_id"] == "88213"  # the cursor is the notification's id
    (request,) = server.hits("/api/v1/notifications")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.query["types[]"] == ["mention"]
    assert TOKEN not in caplog.text

    # refused token: a coded error that does not carry the token
    server.route(
        "/api/v1/notifications", Reply.json({"error": "The access token is invalid"}, status=401)
    )
    with pytest.raises(SourceError) as err:
        fetch(cfg, result.state)
    assert err.value.code == "forbidden" and TOKEN not in err.value.message
    assert sources.redacted("mastodon", cfg)["access_token"] == sources.SECRET_MASK


def test_429_with_retry_after_then_200(server):
    server.route(
        TAG,
        Reply.json({"error": "Too many requests"}, status=429, headers={"Retry-After": "90"}),
        Reply.json(fixture_json("mastodon_tag_acme.json")),
    )
    with pytest.raises(SourceError) as err:
        fetch(config(server))
    assert err.value.code == "rate_limited" and err.value.retry_after == 90.0

    result = fetch(config(server))  # the server has recovered
    assert len(result.items) == 3


def test_429_without_retry_after_uses_the_rate_limit_reset(server):
    reset = dt.datetime.fromtimestamp(time.time() + 300, dt.UTC).isoformat()
    server.route(
        TAG,
        Reply.json(
            {"error": "Too many requests"},
            status=429,
            headers={
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
            },
        ),
    )
    with pytest.raises(SourceError) as err:
        fetch(config(server))
    assert err.value.code == "rate_limited"
    assert 280 <= err.value.retry_after <= 301


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_coded(server, status):
    server.route(TAG, Reply(status=status, body="<html>oops</html>", content_type="text/html"))
    with pytest.raises(SourceError) as err:
        fetch(config(server))
    assert err.value.code == "server_error"


def test_a_timeline_closed_to_visitors_asks_for_a_token(server):
    server.route(
        TAG, Reply.json({"error": "This method requires an authenticated user"}, status=422)
    )
    with pytest.raises(SourceError) as err:
        fetch(config(server))
    assert err.value.code == "forbidden" and "access token" in err.value.message


def test_a_non_json_answer_is_a_coded_error(server):
    server.route(TAG, Reply(body="<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(SourceError) as err:
        fetch(config(server))
    assert err.value.code == "bad_response"


def test_the_address_guard_applies_through_mastodon_py(server, settings):
    cfg = config(server)
    settings.KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(SourceError) as err:
        fetch(cfg)
    assert err.value.code == "private_address"
    assert server.requests == []


def test_mastodon_config_validation_names_the_fields(allow_loopback):
    ok = sources.validate_config(
        "mastodon",
        {"instance": "https://Social.Example/", "timeline": "hashtag", "hashtag": "#Acme_Kettles"},
    )
    assert ok == {
        "instance": "https://social.example",
        "timeline": "hashtag",
        "hashtag": "Acme_Kettles",
        "local_only": False,
    }
    assert (
        sources.validate_config(
            "mastodon",
            {
                "instance": "https://social.example",
                "timeline": "account",
                "account": "https://fosstodon.example/@kettlefan",
            },
        )["account"]
        == "kettlefan@fosstodon.example"
    )

    cases = [
        (
            {"instance": "ftp://social.example", "timeline": "hashtag", "hashtag": "a"},
            "config.instance",
        ),
        (
            {"instance": "https://social.example/web", "timeline": "hashtag", "hashtag": "a"},
            "config.instance",
        ),
        (
            {"instance": "https://social.example", "timeline": "hashtag", "hashtag": "two words"},
            "config.hashtag",
        ),
        (
            {"instance": "https://social.example", "timeline": "hashtag", "hashtag": "123"},
            "config.hashtag",
        ),
        ({"instance": "https://social.example", "timeline": "hashtag"}, "config.hashtag"),
        (
            {"instance": "https://social.example", "timeline": "account", "account": "@a@b@c"},
            "config.account",
        ),
        ({"instance": "https://social.example", "timeline": "mentions"}, "config.access_token"),
        ({"instance": "https://social.example", "timeline": "home"}, "config.timeline"),
        (
            {"instance": "https://social.example", "timeline": "hashtag", "hashtag": "a", "tok": 1},
            "config.tok",
        ),
    ]
    for cfg, field in cases:
        with pytest.raises(ValidationFailed) as err:
            sources.validate_config("mastodon", cfg)
        assert field in [e.field for e in err.value.errors], (cfg, err.value.errors)


def test_masked_secrets_are_kept_on_edit():
    old = {"instance": "https://social.example", "timeline": "mentions", "access_token": TOKEN}
    edited = {**sources.redacted("mastodon", old), "timeline": "mentions"}
    assert sources.merge_secrets("mastodon", edited, old)["access_token"] == TOKEN
