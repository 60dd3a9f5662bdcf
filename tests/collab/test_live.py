"""Live updates: the in-process and Redis brokers, and Server-Sent Events delivered to two
browsers-worth of HTTP clients at once through the threaded live server."""

import json
import socket
import threading
import time
import urllib.request

import pytest
from django.test import Client

from kith.collab import live, services
from tests.conftest import make_person

REDIS = ("127.0.0.1", 6379)


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_up(), reason="REDIS TESTS SKIPPED: nothing listens on 127.0.0.1:6379"
)


def test_in_process_broker_fans_out_to_every_subscriber():
    broker = live.InProcessBroker()
    one, two = broker.subscribe(["feed:1:2"]), broker.subscribe(["feed:1:2", "user:9"])
    assert broker.publish("feed:1:2", {"type": "post"}) == 2
    assert one.get(1)["type"] == "post" and two.get(1)["channel"] == "feed:1:2"
    broker.publish("user:9", {"type": "notification", "unread": 3})
    assert one.get(0.05) is None and two.get(1)["unread"] == 3
    one.close()
    two.close()
    assert broker.subscriber_count("feed:1:2") == 0


@needs_redis
def test_redis_broker_fans_out_to_every_subscriber():
    broker = live.RedisBroker("redis://127.0.0.1:6379/0", prefix=f"kith-test-{time.time()}:")
    one, two = broker.subscribe(["feed:1:2"]), broker.subscribe(["feed:1:2"])
    time.sleep(0.1)
    assert broker.publish("feed:1:2", {"type": "post", "post": "x"}) == 2
    got = [one.get(2), two.get(2)]
    assert all(m and m["post"] == "x" and m["channel"] == "feed:1:2" for m in got)
    one.close()
    two.close()


def test_broker_choice_follows_redis_url(monkeypatch, settings):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    assert isinstance(live.get_broker(), live.InProcessBroker)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(live.get_broker(), live.RedisBroker)
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(live.get_broker(), live.InProcessBroker)


def test_sse_frame_format():
    frame = live.sse("post", "line one\nline two", event_id="7").decode()
    assert frame == "event: post\nid: 7\ndata: line one\ndata: line two\n\n"


# ---------------------------------------------------------------- SSE over HTTP


class Reader(threading.Thread):
    """An SSE client in a thread: collects (event, data) pairs from the stream."""

    def __init__(self, url: str, session: str):
        super().__init__(daemon=True)
        self.request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"})
        self.events: list[tuple[str, str]] = []
        self.ready = threading.Event()
        self.status = None

    def run(self):
        try:
            with urllib.request.urlopen(self.request, timeout=10) as response:
                self.status = response.status
                event, data = None, []
                for raw in response:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                    elif line == "" and event:
                        self.events.append((event, "\n".join(data)))
                        if event == "hello":
                            self.ready.set()
                        event, data = None, []
        except urllib.error.HTTPError as exc:
            self.status = exc.code
        finally:
            self.ready.set()

    def posts(self):
        return [json.loads(d) for e, d in self.events if e == "post"]


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _stream_two_clients(live_server, settings, alice, bob, carol, carol_person):
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 4
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.5
    ana = make_person(alice, given="Ana", family="Lima")
    url = f"{live_server.url}/collab/stream/?feed=person:{ana.public_id}"
    readers = [Reader(url, _session(alice)), Reader(url, _session(bob))]
    outsider = Reader(url, _session(carol))  # a customer: not her record
    for r in (*readers, outsider):
        r.start()
    for r in readers:
        assert r.ready.wait(5) and r.status == 200
    outsider.ready.wait(5)
    assert outsider.status == 404
    started = time.monotonic()
    post = services.create_post(actor=alice, target=ana, body="Live hello @bob")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not all(r.posts() for r in readers):
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    for r in readers:
        got = r.posts()
        assert got and got[0]["post"] == str(post.public_id), r.events
        assert "Live hello" in got[0]["html"]
    assert elapsed < 2
    # Bob's unread count arrives on the same stream.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not any(
        e == "notification" for e, _ in readers[1].events
    ):
        time.sleep(0.05)
    notes = [json.loads(d) for e, d in readers[1].events if e == "notification"]
    assert notes and notes[-1]["unread"] == 1
    for r in readers:
        r.join(6)
        assert not r.is_alive()  # the stream ends after its maximum duration
        assert ("bye", "{}") in r.events


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_sse_delivers_to_two_clients_in_process(
    live_server, settings, alice, bob, carol, carol_person, monkeypatch
):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    _stream_two_clients(live_server, settings, alice, bob, carol, carol_person)


@needs_redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_sse_delivers_to_two_clients_through_redis(
    live_server, settings, alice, bob, carol, carol_person, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(live.get_broker(), live.RedisBroker)
    _stream_two_clients(live_server, settings, alice, bob, carol, carol_person)
    monkeypatch.delenv("REDIS_URL")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_internal_posts_never_reach_an_external_stream(
    live_server, settings, alice, bob, carol, pat, customer_group, monkeypatch
):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 2
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.5
    url = f"{live_server.url}/collab/stream/?feed=group:{customer_group.public_id}"
    staff, customer = Reader(url, _session(bob)), Reader(url, _session(carol))
    for r in (staff, customer):
        r.start()
        assert r.ready.wait(5) and r.status == 200
    # One post at a time: the in-memory SQLite test database locks whole tables.
    services.create_post(actor=bob, target=customer_group, body="staff only", visibility="internal")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not staff.posts():
        time.sleep(0.05)
    services.create_post(actor=bob, target=customer_group, body="for everyone", visibility="group")
    staff.join(4)
    customer.join(4)
    assert ["staff only" in p["html"] for p in staff.posts()] == [True, False]
    assert len(customer.posts()) == 1 and "for everyone" in customer.posts()[0]["html"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_asgi_stream_is_asynchronous_and_live(alice, bob, settings, monkeypatch):
    """Under uvicorn (ASGI) the stream must be an async iterator, never read to the end."""
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from django.test import AsyncClient

    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 5
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.3
    ana = make_person(alice, given="Ana", family="Lima")

    async def scenario():
        client = AsyncClient()
        await client.aforce_login(bob)
        response = await client.get(f"/collab/stream/?feed=person:{ana.public_id}")
        assert response.status_code == 200 and response.is_async
        frames = response.streaming_content.__aiter__()
        assert await frames.__anext__() == b"retry: 1000\n\n"
        assert (await frames.__anext__()).startswith(b"event: hello")
        started = time.monotonic()
        await sync_to_async(services.create_post)(actor=alice, target=ana, body="Async hello")
        while True:
            frame = await asyncio.wait_for(frames.__anext__(), 3)
            if frame.startswith(b"event: post"):
                break
        assert b"Async hello" in frame and time.monotonic() - started < 2
        await frames.aclose()

    async_to_sync(scenario)()
