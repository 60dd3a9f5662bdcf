"""The served application (kith.asgi): ordinary requests on a fixed pool of threads that
keep their database connections, long-lived streams through Django's ASGI handler."""

import asyncio
import threading

import httpx
import pytest
from django.core.signals import request_started
from django.db import connection
from django.db.backends.signals import connection_created

from kith.accounts import services as account_services
from kith.asgi import KithApplication


def _recorder(name: str, calls: list[str]):
    async def app(scope, receive, send):
        calls.append(f"{name} {scope['type']} {scope.get('path', '')}")

    return app


@pytest.mark.parametrize(
    ("scope", "served_by"),
    [
        ({"type": "http", "path": "/api/me"}, "wsgi"),
        ({"type": "http", "path": "/people/"}, "wsgi"),
        ({"type": "http", "path": "/collab/stream/"}, "asgi"),
        ({"type": "http", "path": "/collab/stream/extra"}, "asgi"),
        ({"type": "http", "path": "/collab/streams-are-not-this"}, "wsgi"),
        ({"type": "lifespan"}, "asgi"),
        ({"type": "websocket", "path": "/api/me"}, "asgi"),
    ],
)
def test_requests_are_routed_by_path_and_type(scope, served_by):
    calls: list[str] = []
    app = KithApplication(
        _recorder("asgi", calls), _recorder("wsgi", calls), async_paths=("/collab/stream/",)
    )
    asyncio.run(app(scope, None, None))
    assert calls == [f"{served_by} {scope['type']} {scope.get('path', '')}"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_requests_reuse_a_bounded_set_of_threads_and_connections(alice, settings):
    """Django's ASGI handler made a thread and a database connection per request."""
    from kith.asgi import application

    _, token = account_services.issue_token(actor=alice, user=alice, name="asgi test")
    threads: set[threading.Thread] = set()  # the objects: an ident can be reused
    opened: list[str] = []

    def on_request(**kwargs):
        threads.add(threading.current_thread())

    def on_connect(sender, connection, **kwargs):
        opened.append(connection.alias)

    async def twenty_requests() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            headers = {"Authorization": f"Bearer {token}"}
            return [await client.get("/api/me", headers=headers) for _ in range(20)]

    request_started.connect(on_request)
    connection_created.connect(on_connect)
    try:
        responses = asyncio.run(twenty_requests())
    finally:
        request_started.disconnect(on_request)
        connection_created.disconnect(on_connect)
    assert [r.status_code for r in responses] == [200] * 20
    assert responses[0].json()["username"] == "alice"
    assert 1 <= len(threads) <= settings.KITH_WEB_THREADS
    if connection.vendor == "sqlite":
        # Each thread keeps its connection (PostgreSQL hands them round through a pool).
        assert len(opened) <= len(threads)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_the_event_stream_goes_through_django_asgi_and_the_rest_through_wsgi(
    bob, settings, monkeypatch
):
    """The served application, end to end: a page over WSGI, the live stream over ASGI."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client

    from kith.asgi import application

    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 0.5  # the stream ends by itself, then says bye
    browser = Client()
    browser.force_login(bob)
    cookies = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}
    handlers: list[type] = []

    def on_request(sender, **kwargs):
        handlers.append(sender)

    async def visit() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as client:
            page = await client.get("/work/")
            export = await client.get("/api/people/export.csv")  # a streamed response
            return page, export, await client.get("/collab/stream/")

    request_started.connect(on_request)
    try:
        page, export, stream = asyncio.run(visit())
    finally:
        request_started.disconnect(on_request)
    assert page.status_code == 200 and "My day" in page.text
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.text.splitlines()[0].startswith("id,")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    body = stream.text
    assert body.startswith("retry: 1000") and "event: hello" in body and "event: bye" in body
    assert handlers == [WSGIHandler, WSGIHandler, ASGIHandler]


def _routes(patterns, prefix: str = ""):
    """(path, view) for every pattern of the URLconf, its route as written."""
    from django.urls import URLPattern, URLResolver

    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield "/" + prefix + str(p.pattern), p.callback


def test_every_event_stream_view_is_served_asynchronously(settings):
    """An event stream on the WSGI pool holds a thread while it is open (five minutes):
    a few tabs on the listening queue hung the whole server that way. Every view that
    answers text/event-stream must sit under KITH_ASYNC_PATHS."""
    import inspect

    from django.urls import get_resolver

    app = KithApplication(None, None, async_paths=tuple(settings.KITH_ASYNC_PATHS))
    streams = []
    for path, view in _routes(get_resolver().url_patterns):
        view = inspect.unwrap(getattr(view, "func", view))  # partials: the function
        try:
            source = inspect.getsource(view)
        except TypeError:  # a class instance or builtin: no stream of ours
            continue
        if "text/event-stream" in source:
            streams.append(path)
            assert app.is_async({"type": "http", "path": path}), path
    assert {"/collab/stream/", "/listening/stream/"} <= set(streams)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_the_listening_stream_holds_no_web_thread(bob, settings, monkeypatch):
    """Served end to end: the listening queue's stream goes through Django's ASGI handler
    (its async generator), so open queue tabs leave the thread pool to everybody else."""
    from django.core.handlers.asgi import ASGIHandler
    from django.test import Client

    from kith.asgi import application

    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 0.5
    browser = Client()
    browser.force_login(bob)
    cookies = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}
    handlers: list[type] = []

    def on_request(sender, **kwargs):
        handlers.append(sender)

    async def visit() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as client:
            return await client.get("/listening/stream/")

    request_started.connect(on_request)
    try:
        stream = asyncio.run(visit())
    finally:
        request_started.disconnect(on_request)
    assert stream.status_code == 200, stream.text[:500]
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert handlers == [ASGIHandler]


# ---------------------------------------------------------------- PooledWSGI


class _Streamed:
    """A streaming WSGI body, as Django's StreamingHttpResponse is."""

    streaming = True

    def __init__(self, chunks):
        self.chunks = chunks
        self.closed = False

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


class _Whole(list):
    streaming = False


def _serve(app, *, method="POST", headers=(), messages=()):
    """Call a PooledWSGI around ``app`` once; returns what it sent and what it received."""
    from kith.asgi import PooledWSGI

    bridge = PooledWSGI(app, workers=2)
    queue = list(messages)
    received, sent = [], []

    async def receive():
        message = queue.pop(0) if queue else {"type": "http.disconnect"}
        received.append(message)
        return message

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/x",
        "query_string": b"",
        "http_version": "1.1",
        "headers": list(headers),
    }
    try:
        asyncio.run(bridge(scope, receive, send))
    finally:
        bridge.executor.shutdown()
    return sent, received


def _echo(seen):
    def app(environ, start_response):
        seen.append((threading.current_thread().name, environ["wsgi.input"].read()))
        start_response("201 Created", [("Content-Type", "text/plain")])
        return _Whole([b"got ", b"it"])

    return app


def test_a_small_body_is_read_first_and_an_ordinary_response_sent_whole():
    seen: list = []
    sent, received = _serve(
        _echo(seen),
        headers=[(b"content-length", b"11")],
        messages=[
            {"type": "http.request", "body": b"hello ", "more_body": True},
            {"type": "http.request", "body": b"world", "more_body": False},
        ],
    )
    assert seen[0][0].startswith("WSGI") and seen[0][1] == b"hello world"
    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain")],
        },
        {"type": "http.response.body", "body": b"got it"},
    ]
    assert len(received) == 2


def test_a_large_or_chunked_body_is_read_by_the_thread_as_it_comes(monkeypatch):
    from kith import asgi

    monkeypatch.setattr(asgi, "PREREAD_BYTES", 4)
    parts = [b"abc", b"defg", b"hij"]
    for headers in ([(b"content-length", b"10")], [(b"transfer-encoding", b"chunked")]):
        seen: list = []
        messages = [
            {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)
        ]
        sent, received = _serve(_echo(seen), headers=headers, messages=messages)
        assert seen[0][1] == b"abcdefghij" and len(received) == 3
        assert sent[-1] == {"type": "http.response.body", "body": b"got it"}


def test_a_streaming_response_goes_out_chunk_by_chunk_and_is_closed():
    body = _Streamed([b"a,b\n", b"", b"1,2\n"])

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        return body

    sent, _ = _serve(app, method="GET")
    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 3
    assert [(m.get("body"), m.get("more_body", False)) for m in sent[1:]] == [
        (b"a,b\n", True),
        (b"1,2\n", True),
        (b"", False),
    ]
    assert body.closed


def test_a_client_gone_before_its_body_arrives_is_not_served():
    seen: list = []
    sent, received = _serve(_echo(seen), headers=[(b"content-length", b"5")], messages=[])
    assert received == [{"type": "http.disconnect"}]
    assert seen == [] and sent == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_a_json_post_through_the_served_application(alice):
    """A create through kith.asgi end to end: the body pre-read, the answer whole."""
    from kith.asgi import application

    _, token = account_services.issue_token(actor=alice, user=alice, name="asgi post")

    async def create() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(
                "/api/people",
                json={"given_name": "Ada", "family_name": "Lovelace"},
                headers={"Authorization": f"Bearer {token}"},
            )

    response = asyncio.run(create())
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "Ada Lovelace"


def test_an_ordinary_response_reaches_the_client_before_the_request_is_closed():
    """Closing runs Django's end-of-request work (the transparency log writes, and on
    SQLite may wait behind an import's write lock): the client must not wait for it."""
    from kith.asgi import PooledWSGI

    body_sent = threading.Event()
    closed_after_sending: list[bool] = []

    class Answer(_Whole):
        def close(self):
            closed_after_sending.append(body_sent.wait(timeout=5))

    def app(environ, start_response):
        start_response("200 OK", [])
        return Answer([b"done"])

    async def send(message):
        if message["type"] == "http.response.body":
            body_sent.set()

    async def receive():
        return {"type": "http.disconnect"}

    bridge = PooledWSGI(app, workers=1)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [],
    }
    try:
        asyncio.run(bridge(scope, receive, send))
    finally:
        bridge.executor.shutdown()
    assert closed_after_sending == [True]
