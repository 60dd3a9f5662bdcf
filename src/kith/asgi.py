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
* everything else to Django's WSGI handler on ``KITH_WEB_THREADS`` threads.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")

from a2wsgi import WSGIMiddleware
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


def build_application() -> KithApplication:
    asgi_app = get_asgi_application()  # sets Django up
    wsgi_app = WSGIMiddleware(get_wsgi_application(), workers=settings.KITH_WEB_THREADS)
    return KithApplication(asgi_app, wsgi_app, tuple(settings.KITH_ASYNC_PATHS))


application = build_application()
