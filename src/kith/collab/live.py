"""Live updates: a publish/subscribe broker behind the Server-Sent Events stream.

Embedded mode (one process) uses ``InProcessBroker``: a thread-safe map of channel →
subscriber queues, so every request thread streaming a feed gets what any other thread
publishes. With ``REDIS_URL`` set (environment or settings) ``RedisBroker`` uses Redis
pub/sub instead, so several web processes share one stream of updates.

Messages are small JSON dicts (``{"type": "post", "post": "<uuid>", ...}``): the stream
re-reads the post through the access layer for each reader, so a message never carries
content a reader may not see.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger("kith.collab.live")


class Subscription(Protocol):
    def get(self, timeout: float) -> dict | None: ...

    def close(self) -> None: ...


class _LocalSubscription:
    def __init__(self, broker: InProcessBroker, channels: list[str]):
        self.broker = broker
        self.channels = channels
        self.queue: queue.Queue = queue.Queue(maxsize=1000)

    def get(self, timeout: float) -> dict | None:
        try:
            if timeout <= 0:
                return self.queue.get_nowait()
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.broker._remove(self)


class InProcessBroker:
    """Fan-out to subscribers in this process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[_LocalSubscription]] = {}

    def publish(self, channel: str, message: dict) -> int:
        with self._lock:
            targets = list(self._subs.get(channel, ()))
        for sub in targets:
            try:
                sub.queue.put_nowait({**message, "channel": channel})
            except queue.Full:  # a stalled reader drops messages rather than blocking writers
                logger.warning("live subscriber queue full on %s", channel)
        return len(targets)

    def subscribe(self, channels: list[str]) -> _LocalSubscription:
        sub = _LocalSubscription(self, list(channels))
        with self._lock:
            for channel in sub.channels:
                self._subs.setdefault(channel, set()).add(sub)
        return sub

    def _remove(self, sub: _LocalSubscription) -> None:
        with self._lock:
            for channel in sub.channels:
                subs = self._subs.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[channel]

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._subs.get(channel, ()))


class _RedisSubscription:
    def __init__(self, client, channels: list[str], prefix: str):
        self.prefix = prefix
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(*[prefix + c for c in channels])

    def get(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            # Subscribe confirmations come back as None: keep waiting for a real message.
            message = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message and message.get("type") == "message":
                break
            if time.monotonic() >= deadline:
                return None
        try:
            data = json.loads(message["data"])
        except (TypeError, ValueError):
            return None
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        data["channel"] = channel[len(self.prefix) :]
        return data

    def close(self) -> None:
        try:
            self.pubsub.close()
        except Exception:  # closing a dead connection is not worth failing a request over
            logger.debug("closing redis pubsub failed", exc_info=True)


class RedisBroker:
    """Redis pub/sub, for several web processes."""

    def __init__(self, url: str, prefix: str = "kith:collab:"):
        import redis

        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(url)

    def publish(self, channel: str, message: dict) -> int:
        return int(self.client.publish(self.prefix + channel, json.dumps(message, default=str)))

    def subscribe(self, channels: list[str]) -> _RedisSubscription:
        return _RedisSubscription(self.client, channels, self.prefix)


_broker: Any = None
_broker_url: str | None = None
_broker_lock = threading.Lock()


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or getattr(settings, "REDIS_URL", "") or ""


def get_broker():
    """The process's broker: Redis when ``REDIS_URL`` is set, otherwise in-process."""
    global _broker, _broker_url
    url = redis_url()
    with _broker_lock:
        if _broker is None or _broker_url != url:
            _broker = RedisBroker(url) if url else InProcessBroker()
            _broker_url = url
        return _broker


def publish(channel: str, message: dict) -> None:
    """Publish, never failing the caller: live updates are best effort."""
    try:
        get_broker().publish(channel, message)
    except Exception:
        logger.exception("live publish failed on %s", channel)


def feed_channel(target_type_id: int, target_id: int) -> str:
    return f"feed:{target_type_id}:{target_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def sse(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    """One Server-Sent Event frame (data lines split so newlines survive)."""
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in text.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()
