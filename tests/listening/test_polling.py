"""The poll loop: schedule, claims, conditional requests, error state, back-off, recovery,
and nothing ingested twice. Real sources over real HTTP against the local fixture server."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from kith.core import worker
from kith.listening import pipeline, polling, services, sources
from kith.listening.incoming import FetchResult, IncomingMention
from kith.listening.models import Mention, Source
from kith.listening.sources import SourceKind
from tests.listening.fixtures import server as fixture_http
from tests.listening.fixtures.server import Reply, fixture_json

allow_loopback = fixture_http.allow_loopback
_fixture_server = fixture_http._fixture_server
server = fixture_http.server

pytestmark = pytest.mark.django_db
RSS = "application/rss+xml; charset=utf-8"
INTERVAL = 900


@pytest.fixture(autouse=True)
def _fixed_sentiment(monkeypatch):
    """The pipeline's sentiment model is not what these tests are about."""
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))


def feed_source(srv, path="/feed.xml", **kw) -> Source:
    kw.setdefault("poll_interval_seconds", INTERVAL)
    return Source.objects.create(kind="feed", name="Gazette", config={"url": srv.url(path)}, **kw)


def poll(**kw):
    return polling.poll_due_sources(rng=random.Random(7), **kw)


def make_due(source: Source) -> None:
    Source.objects.filter(pk=source.pk).update(
        next_poll_at=timezone.now() - dt.timedelta(seconds=1)
    )


def between(value: dt.datetime, low: float, high: float, since: dt.datetime) -> bool:
    return since + dt.timedelta(seconds=low) <= value <= timezone.now() + dt.timedelta(seconds=high)


def test_a_due_feed_is_polled_ingested_and_scheduled(server):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'}))
    source = feed_source(server)
    before = timezone.now()

    (outcome,) = poll()

    assert outcome.ok and outcome.fetched == 3 and outcome.created == 3
    source.refresh_from_db()
    assert source.status == Source.Status.OK and source.error_code == ""
    assert source.mention_count == 3
    assert set(Mention.objects.filter(source=source).values_list("external_id", flat=True)) == {
        "gazette-2026-1187",
        "https://gazette.example/news/acme-repair-cafe",
        "https://gazette.example/letters/blender-ten-years",
    }
    assert source.state["etag"] == '"v1"' and source.state["last_poll"]["created"] == 3
    assert source.last_success_at >= before and source.last_polled_at == source.last_success_at
    # the interval, jittered by at most 10 %
    assert between(source.next_poll_at, 0.9 * INTERVAL, 1.1 * INTERVAL, before)
    assert poll() == []  # not due again yet


def test_conditional_requests_and_nothing_ingested_twice(server):
    def conditional(seen):
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"'})
        return Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'})

    server.route("/feed.xml", conditional)
    source = feed_source(server)
    poll()
    make_due(source)
    (second,) = poll()
    assert second.ok and second.not_modified and second.fetched == 0
    assert server.hits("/feed.xml")[1].headers["if-none-match"] == '"v1"'

    # a server that ignores conditional requests: the same entries, nothing stored twice
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS))
    make_due(source)
    (third,) = poll()
    assert third.ok and third.fetched == 0
    assert Mention.objects.filter(source=source).count() == 3


def test_errors_show_on_the_source_back_off_and_recover(server):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'}))
    source = feed_source(server)
    poll()
    etag_state = Source.objects.get(pk=source.pk).state

    server.route("/feed.xml", Reply(status=500, body="boom", content_type="text/plain"))
    for failures, low, high in [(1, 1, 1.25), (2, 2, 2.5), (3, 4, 5)]:
        make_due(source)
        before = timezone.now()
        (outcome,) = poll()
        source.refresh_from_db()
        assert not outcome.ok and outcome.code == "server_error"
        assert source.status == Source.Status.ERROR and source.error_code == "server_error"
        assert "500" in source.error_message
        assert source.consecutive_failures == failures
        assert between(source.next_poll_at, low * INTERVAL, high * INTERVAL, before), failures
        assert source.state == etag_state  # a failure keeps the state for the next try

    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'}))
    make_due(source)
    (outcome,) = poll()
    source.refresh_from_db()
    assert outcome.ok
    assert (source.status, source.error_code, source.error_message) == ("ok", "", "")
    assert source.consecutive_failures == 0
    assert Mention.objects.filter(source=source).count() == 3  # recovered, nothing twice


def test_retry_after_wins_over_a_shorter_back_off(server):
    server.route(
        "/feed.xml",
        Reply(
            status=429, headers={"Retry-After": "7200"}, body="slow down", content_type="text/plain"
        ),
    )
    source = feed_source(server, poll_interval_seconds=300)
    before = timezone.now()
    poll()
    source.refresh_from_db()
    assert source.error_code == "rate_limited"
    assert between(source.next_poll_at, 7200, 7200, before)


def test_backoff_is_capped_and_jittered():
    rng = random.Random(1)
    delays = {polling.backoff_seconds(3, 600, rng=rng) for _ in range(20)}
    assert all(2400 <= d <= 3000 for d in delays) and len(delays) > 1
    assert polling.backoff_seconds(40, 3600, rng=rng) <= polling.MAX_BACKOFF * 1.25
    assert polling.backoff_seconds(1, 60, retry_after=10**9, rng=rng) == polling.MAX_RETRY_AFTER


def test_mastodon_429_then_200_through_the_poller(server):
    tag = "/api/v1/timelines/tag/acme"
    server.route(
        tag,
        Reply.json({"error": "Too many requests"}, status=429, headers={"Retry-After": "1800"}),
        Reply.json(fixture_json("mastodon_tag_acme.json")),
    )
    source = Source.objects.create(
        kind="mastodon",
        name="#acme",
        config={"instance": server.base, "timeline": "hashtag", "hashtag": "acme"},
        poll_interval_seconds=120,
    )
    before = timezone.now()
    (failed,) = poll()
    source.refresh_from_db()
    assert failed.code == "rate_limited" and source.status == "error"
    assert between(source.next_poll_at, 1800, 1800, before)

    make_due(source)
    (ok,) = poll()
    source.refresh_from_db()
    assert ok.ok and ok.created == 3 and source.status == "ok"
    assert source.state["since_id"] == "113500000000000003"
    mention = Mention.objects.get(source=source, external_id="113500000000000003")
    assert (
        mention.author_handle == "@kettlefan@fosstodon.example" and mention.author_followers == 87
    )

    make_due(source)
    server.route(tag, Reply.json([]))
    (again,) = poll()
    assert again.ok and again.fetched == 0
    assert server.hits(tag)[-1].query["min_id"] == ["113500000000000003"]
    assert Mention.objects.filter(source=source).count() == 3


def test_mastodon_500_is_an_error_state(server):
    server.route("/api/v1/timelines/tag/acme", Reply.json({"error": "oops"}, status=500))
    source = Source.objects.create(
        kind="mastodon",
        name="#acme",
        config={"instance": server.base, "timeline": "hashtag", "hashtag": "acme"},
    )
    poll()
    source.refresh_from_db()
    assert (source.status, source.error_code, source.consecutive_failures) == (
        "error",
        "server_error",
        1,
    )


@pytest.fixture
def exploding_kind():
    def fetch(config, state, *, http):
        raise RuntimeError("a bug in a fetcher")

    def validate(config, *, prefix="config."):
        return {}

    kinds = sources._kinds
    saved = kinds["feed"]
    kinds["feed"] = SourceKind(name="feed", label="x", validate=validate, fetch=fetch)
    yield
    kinds["feed"] = saved


def test_an_unexpected_error_never_escapes_and_other_sources_still_poll(server, exploding_kind):
    server.route("/api/v1/timelines/tag/acme", Reply.json(fixture_json("mastodon_tag_acme.json")))
    broken = Source.objects.create(kind="feed", name="Broken", config={})
    fine = Source.objects.create(
        kind="mastodon",
        name="#acme",
        config={"instance": server.base, "timeline": "hashtag", "hashtag": "acme"},
    )
    outcomes = {o.source_id: o for o in poll()}
    assert outcomes[broken.pk].code == "internal_error" and outcomes[fine.pk].ok
    broken.refresh_from_db()
    assert broken.status == "error" and "worker log" in broken.error_message


def test_the_periodic_job_is_registered_and_survives_anything(monkeypatch):
    assert (
        worker.periodic_jobs()["listening.poll_sources"].every_seconds == polling.POLL_EVERY_SECONDS
    )

    def broken_listing(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(polling, "due_sources", broken_listing)
    polling.run_periodic()  # logs, does not raise


def test_the_worker_job_polls_due_sources(server):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS))
    source = feed_source(server)
    worker.periodic_jobs()["listening.poll_sources"].func()
    assert Mention.objects.filter(source=source).count() == 3


def test_an_ingest_failure_keeps_the_state_so_the_items_come_again(server, monkeypatch):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'}))
    source = feed_source(server)

    def broken_submit(source, items):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "submit", broken_submit)
    (outcome,) = poll()
    source.refresh_from_db()
    assert outcome.code == "ingest_failed" and source.state == {}

    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))
    make_due(source)
    (outcome,) = poll()
    assert outcome.ok and outcome.created == 3
    assert "if-none-match" not in server.hits("/feed.xml")[1].headers  # fetched in full again


def test_bad_config_is_an_error_state_not_a_crash():
    source = Source.objects.create(kind="feed", name="Typo", config={"url": "htp:/nowhere"})
    (outcome,) = poll()
    source.refresh_from_db()
    assert outcome.code == "bad_config" and "config.url" in source.error_message


def test_a_changed_config_starts_the_state_afresh(server):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS, headers={"ETag": '"v1"'}))
    server.route("/other.xml", Reply.file("atom.xml", content_type="application/atom+xml"))
    source = feed_source(server)
    poll()
    Source.objects.filter(pk=source.pk).update(config={"url": server.url("/other.xml")})
    make_due(source)
    (outcome,) = poll()
    assert outcome.ok and outcome.created == 2
    assert "if-none-match" not in server.hits("/other.xml")[0].headers


def test_only_due_enabled_polled_sources_are_claimed_once(server):
    server.route("/feed.xml", Reply.file("rss20.xml", content_type=RSS))
    due = feed_source(server)
    feed_source(server, enabled=False)
    feed_source(server, next_poll_at=timezone.now() + dt.timedelta(hours=1))
    Source.objects.create(kind="webhook", name="Hook")
    Source.objects.create(kind="upload", name="Upload")
    assert [s.pk for s in polling.due_sources()] == [due.pk]

    now = timezone.now()
    mine, theirs = polling.due_sources()[0], Source.objects.get(pk=due.pk)
    assert polling.claim(mine, now)
    assert not polling.claim(theirs, now)  # another worker read the same due row: too late
    assert poll() == []  # claimed: leased, not due


def test_a_spent_time_budget_leaves_sources_due(server):
    feed_source(server)
    assert poll(budget=-1) == []
    assert len(polling.due_sources()) == 1


def test_a_backlog_brings_the_source_back_at_once(server, monkeypatch):
    def fetch(config, state, *, http):
        n = int(state.get("n", 0))
        item = IncomingMention(external_id=f"x{n}", text=f"item number {n}", channel="rss")
        return FetchResult(items=[item], state={"n": n + 1, "more": n < 1})

    monkeypatch.setitem(
        sources._kinds,
        "feed",
        SourceKind(
            name="feed", label="x", validate=lambda c, prefix="": {}, fetch=fetch, network=False
        ),
    )
    source = feed_source(server)
    now = timezone.now()
    (first,) = polling.poll_due_sources(now=now)
    assert first.next_poll_at == now  # more to read
    source.refresh_from_db()
    assert "more" not in source.state
    (second,) = polling.poll_due_sources(now=timezone.now())
    assert second.next_poll_at > timezone.now() + dt.timedelta(seconds=0.8 * INTERVAL)


def test_source_errors_carry_no_secrets(server):
    token = "tok-Very-Secret-99"
    server.route(
        "/api/v1/notifications", Reply.json({"error": "The access token is invalid"}, status=401)
    )
    source = Source.objects.create(
        kind="mastodon",
        name="@acme mentions",
        config={"instance": server.base, "timeline": "mentions", "access_token": token},
    )
    (outcome,) = poll()
    source.refresh_from_db()
    assert outcome.code == "forbidden"
    assert token not in source.error_message and token not in str(source.state)


def test_source_error_is_never_raised_out_of_poll_source(server):
    source = feed_source(server, path="/missing")
    outcome = polling.poll_source(source)
    assert outcome.code == "not_found"
