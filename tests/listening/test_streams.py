"""Scale-out ingest through a real Redis Stream consumer group (127.0.0.1:6379).

Each test uses its own stream key and deletes it afterwards; skipped when Redis is absent.
"""

from __future__ import annotations

import uuid

import pytest

from kith.listening import pipeline, streams
from kith.listening.incoming import IncomingMention
from kith.listening.models import Mention, Source

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def conn():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379 (needed for the stream tests)")
    yield client
    client.close()


@pytest.fixture
def stream(conn):
    key = f"kith:test:listening:{uuid.uuid4().hex}"
    yield key
    conn.delete(key)


@pytest.fixture(autouse=True)
def _quiet_sentiment(monkeypatch):
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))


@pytest.fixture
def source(restore_migration_seed) -> Source:
    return Source.objects.create(kind="webhook", name="Hook")


def items(*ids: str) -> list[IncomingMention]:
    return [
        IncomingMention(external_id=i, text=f"post number {i} about the product", channel="webhook")
        for i in ids
    ]


def test_batches_round_trip_through_the_stream_encoding():
    import datetime as dt

    item = IncomingMention(
        external_id="1",
        text="hi",
        channel="x",
        published_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
        author_followers=5,
        raw={"a": 1},
    )
    source_id, decoded = streams.decode_batch(streams.encode_batch(7, [item]))
    assert (source_id, decoded) == (7, [item])


def test_two_consumers_share_the_group_and_everything_is_stored_once(conn, stream, source):
    for n in range(6):
        streams.publish(source.pk, items(f"a{n}", f"b{n}"), conn=conn, stream=stream)
    # The same batch published twice (a sender retry): at-least-once, stored once.
    streams.publish(source.pk, items("a0", "b0"), conn=conn, stream=stream)
    got_one = streams.consume(consumer="one", conn=conn, stream=stream, count=3)
    got_two = streams.consume(consumer="two", conn=conn, stream=stream, count=3)
    rest = streams.consume_available(consumer="one", conn=conn, stream=stream)
    assert got_one == 3 and got_two == 3 and rest == 1
    assert Mention.objects.count() == 12
    assert conn.xpending(stream, streams.GROUP)["pending"] == 0  # all acknowledged


def test_a_dead_consumers_entries_are_claimed_and_finished_by_another(conn, stream, source):
    streams.publish(source.pk, items("1", "2"), conn=conn, stream=stream)
    streams.ensure_group(conn, stream)
    # "dead" reads the entry and dies before ingesting or acknowledging it.
    conn.xreadgroup(streams.GROUP, "dead", {stream: ">"}, count=10)
    assert conn.xpending(stream, streams.GROUP)["pending"] == 1
    assert streams.consume(consumer="alive", conn=conn, stream=stream, claim_idle_ms=60_000) == 0
    assert not Mention.objects.exists()  # not stale yet: left to its owner
    assert streams.consume(consumer="alive", conn=conn, stream=stream, claim_idle_ms=0) == 1
    assert Mention.objects.count() == 2
    assert conn.xpending(stream, streams.GROUP)["pending"] == 0


def test_a_failing_entry_stays_pending_and_is_not_acknowledged(conn, stream, source, monkeypatch):
    from kith.listening import services

    streams.publish(source.pk, items("1"), conn=conn, stream=stream)

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "ingest", boom)
    assert streams.consume(consumer="c", conn=conn, stream=stream) == 0
    assert conn.xpending(stream, streams.GROUP)["pending"] == 1
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))
    assert streams.consume(consumer="c", conn=conn, stream=stream, claim_idle_ms=0) == 1
    assert Mention.objects.count() == 1


def test_entries_for_a_deleted_source_are_acknowledged_and_dropped(conn, stream, source):
    streams.publish(source.pk + 999, items("1"), conn=conn, stream=stream)
    streams.consume(consumer="c", conn=conn, stream=stream)
    assert conn.xpending(stream, streams.GROUP)["pending"] == 0
    assert not Mention.objects.exists()
