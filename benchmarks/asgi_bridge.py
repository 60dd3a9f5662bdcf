"""CPU a request costs in the bridge from uvicorn's event loop to the WSGI thread pool.

    .venv/bin/python benchmarks/asgi_bridge.py [--requests 3000] [--rounds 2]

Calls ``kith.asgi.PooledWSGI`` and a2wsgi's ``WSGIMiddleware`` (which Kith used before)
around the same trivial WSGI app, which reads a small JSON body and answers a few
bytes, as uvicorn would call them (an ASGI scope, ``receive`` and ``send``), in
alternating rounds, and prints the CPU time of this process per request
(``time.process_time``: the event loop and the pool's threads). The app does no work,
so the figure is the bridge's own cost; ``run.py`` measures what it means for a
served create.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

BODY = b'{"given_name": "Ada", "family_name": "Lovelace"}'
SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/api/people",
    "query_string": b"",
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "headers": [
        (b"content-length", str(len(BODY)).encode()),
        (b"content-type", b"application/json"),
    ],
}


def app(environ, start_response):  # type: ignore[no-untyped-def]
    environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


async def serve(bridge, requests: int) -> None:  # type: ignore[no-untyped-def]
    async def send(message: dict) -> None:
        pass

    for _ in range(requests):
        messages = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive(messages: list = messages) -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await bridge(SCOPE, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # kith.asgi sets Django up on import: give it a throwaway home.
    os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-bridge-"))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.pop("DATABASE_URL", None)
    from a2wsgi import WSGIMiddleware

    from kith.asgi import PooledWSGI

    bridges = {"a2wsgi WSGIMiddleware": WSGIMiddleware(app, workers=8)}
    bridges["kith.asgi.PooledWSGI"] = PooledWSGI(app, workers=8)
    figures: dict[str, list[float]] = {name: [] for name in bridges}
    for _ in range(args.rounds):
        for name, bridge in bridges.items():
            asyncio.run(serve(bridge, 200))  # warm
            start = time.process_time()
            asyncio.run(serve(bridge, args.requests))
            figures[name].append((time.process_time() - start) / args.requests * 1e6)
    for name, values in figures.items():
        print(f"{name:24} " + " / ".join(f"{v:.0f}" for v in values) + " µs CPU a request")


if __name__ == "__main__":
    main()
