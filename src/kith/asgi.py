"""ASGI entry point (uvicorn): ordinary requests on a fixed thread pool, streams async.

Django's own ASGI handler runs each request's synchronous code (every Kith view and
API endpoint is synchronous) in a thread made for that request, so the thread-local
database connection is opened and thrown away on every request, and the middleware
chain hops between the event loop and threads several times. Measured on ``GET
/api/me``, that was 3.1 ms of server CPU per request; the same request through
Django's WSGI handler on a fixed pool of threads (a2wsgi), where each thread keeps its
connection, costs 1.2 ms.

So uvicorn serves one ASGI application that hands

* long-lived streams (``KITH_ASYNC_PATHS``, the Server-Sent Events feed) to Django's
  ASGI handler, where an open stream holds no thread, and
* everything else to Django's WSGI handler on ``KITH_WEB_THREADS`` threads
  (:class:`PooledWSGI`).

``PooledWSGI`` replaces a2wsgi's ``WSGIMiddleware`` (whose request-environ builder and
streamed request body it still uses). That one had the request's thread wait on the
event loop for the request body, the response's start, each body chunk and the end.
``PooledWSGI`` reads a small request body on the loop before the thread starts and
hands an ordinary (not streaming) response to the loop whole, without waiting, then
closes it while the loop sends; only large uploads and streaming responses (exports)
cross over piece by piece, so their memory stays bounded. Served creates cost about
a millisecond less of server CPU (``benchmarks/README.md``; the bridges alone:
``benchmarks/asgi_bridge.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
import os
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")

from a2wsgi.wsgi import Body, build_environ
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Any]


class KithApplication:
    """Route each HTTP request to the WSGI thread pool, or to ASGI for streaming paths."""

    def __init__(self, asgi_app: ASGIApp, wsgi_app: ASGIApp, async_paths: tuple[str, ...]):
        self.asgi_app = asgi_app
        self.wsgi_app = wsgi_app
        self.async_paths = async_paths

    def is_async(self, scope: dict) -> bool:
        if scope["type"] != "http":
            return True  # lifespan, websockets: only the ASGI handler speaks them
        path = scope["path"]
        return any(path.startswith(prefix) for prefix in self.async_paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        app = self.asgi_app if self.is_async(scope) else self.wsgi_app
        await app(scope, receive, send)


# A request body up to this size is read on the event loop before the request's thread
# starts; a larger one (an upload) is read by the thread as the view consumes it.
PREREAD_BYTES = 1 << 20

_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class _Disconnected(Exception):
    """The client went away before its request body arrived."""


class PooledWSGI:
    """A WSGI application served to ASGI on a fixed pool of threads (see the module)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], workers: int):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="WSGI")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            body = await self._small_body(scope, receive)
        except _Disconnected:
            return  # nobody to answer
        wsgi_input = Body(loop, receive) if body is None else io.BytesIO(body)
        environ = build_environ(scope, wsgi_input)
        run = functools.partial(contextvars.copy_context().run, self._respond, environ, loop, send)
        sending = await loop.run_in_executor(self.executor, run)
        if sending is not None:
            await asyncio.wrap_future(sending)

    @staticmethod
    async def _small_body(scope: dict, receive: Any) -> bytes | None:
        """The whole request body when it is known to be small, else None."""
        length: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return None
            elif name == b"transfer-encoding":
                return None  # chunked: size unknown
        if length is None:
            if scope.get("method") not in _NO_BODY_METHODS:
                return None
            length = 0
        if length == 0:
            return b""
        if length > PREREAD_BYTES:
            return None
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _send_whole(send: Any, start: dict, content: bytes) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": content})

    def _respond(self, environ: dict, loop: asyncio.AbstractEventLoop, send: Any):
        """Run the app in this thread.

        An ordinary response is handed to the loop whole, and this thread then closes
        it without waiting: closing runs Django's end-of-request work (the
        transparency log's write, for one, which may wait for SQLite's write lock
        behind an import), which the client should not wait for. The future of that
        sending comes back, for the caller to await. A streaming response is sent
        chunk by chunk from here (each chunk waits for the loop to take it), and None
        comes back."""
        started: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, headers: list, exc_info: Any = None):
            if exc_info is not None and started.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            started["message"] = {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [
                    (name.strip().encode("latin1").lower(), value.strip().encode("latin1"))
                    for name, value in headers
                ],
            }
            return written.append  # WSGI's legacy write(): Django does not use it

        iterable = self.app(environ, start_response)
        try:
            if getattr(iterable, "streaming", True) is False:
                content = b"".join([*written, *iterable])
                whole = self._send_whole(send, started["message"], content)
                return asyncio.run_coroutine_threadsafe(whole, loop)

            def deliver(message: dict) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            for chunk in (*written, *iterable) if written else iterable:
                if not started.get("sent"):
                    started["sent"] = True
                    deliver(started["message"])
                if chunk:
                    deliver({"type": "http.response.body", "body": chunk, "more_body": True})
            if not started.get("sent"):
                started["sent"] = True
                deliver(started["message"])
            deliver({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()


def build_application() -> KithApplication:
    asgi_app = get_asgi_application()  # sets Django up
    wsgi_app = PooledWSGI(get_wsgi_application(), workers=settings.KITH_WEB_THREADS)
    return KithApplication(asgi_app, wsgi_app, tuple(settings.KITH_ASYNC_PATHS))


application = build_application()
