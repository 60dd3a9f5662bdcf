"""Scale-out ingest through a Redis Stream with a consumer group.

With ``REDIS_URL`` set, ``services.submit`` appends each batch to the stream
``kith:listening:ingest`` (one entry: the source id and the items as JSON) instead of
running the pipeline in the caller. Any number of consumers (``kith listening-consume``
processes, and each embedded worker's periodic drain) read it as one group:

* **at-least-once**: an entry is acknowledged (XACK) only after the transaction that
  stored its batch committed; a consumer that dies before leaves it pending;
* **stale entries are claimed** with XAUTOCLAIM once idle longer than ``CLAIM_IDLE_MS``,
  so another consumer finishes a dead one's work;
* **idempotent**: a batch delivered twice is ingested twice, and the unique
  (source, external_id) constraint makes the second time store nothing;
* a batch that keeps failing (a source deleted meanwhile, a bug) is acknowledged after
  ``MAX_DELIVERIES`` attempts and logged, so it cannot block the group forever.

Without Redis nothing here runs: ingest happens in the caller's database transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from kith.listening.incoming import IncomingMention

logger = logging.getLogger(__name__)

STREAM = "kith:listening:ingest"
GROUP = "kith-listening"
CLAIM_IDLE_MS = 60_000
MAX_DELIVERIES = 5
# Keep the stream bounded (approximate trim): acknowledged history is not needed.
MAX_LEN = 100_000


def enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def client(url: str | None = None):
    import redis

    return redis.Redis.from_url(url or settings.REDIS_URL)


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(conn, stream: str = STREAM, group: str = GROUP) -> None:
    import redis

    try:
        conn.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _item_json(item: IncomingMention) -> dict[str, Any]:
    data = dataclasses.asdict(item)
    if item.published_at is not None:
        data["published_at"] = item.published_at.isoformat()
    return data


def _item_from(data: dict[str, Any]) -> IncomingMention:
    published = data.get("published_at")
    data = {**data, "published_at": dt.datetime.fromisoformat(published) if published else None}
    known = {f.name for f in dataclasses.fields(IncomingMention)}
    return IncomingMention(**{k: v for k, v in data.items() if k in known})


def encode_batch(source_id: int, items: Sequence[IncomingMention]) -> dict[str, str]:
    return {
        "source": str(source_id),
        "items": json.dumps([_item_json(i) for i in items], separators=(",", ":")),
    }


def decode_batch(fields: dict) -> tuple[int, list[IncomingMention]]:
    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else value

    fields = {text(k): text(v) for k, v in fields.items()}
    return int(fields["source"]), [_item_from(d) for d in json.loads(fields["items"])]


def publish(
    source_id: int, items: Sequence[IncomingMention], *, conn=None, stream: str = STREAM
) -> str:
    """Append one batch to the stream; returns the entry id."""
    conn = conn or client()
    entry = conn.xadd(stream, encode_batch(source_id, items), maxlen=MAX_LEN, approximate=True)
    return entry.decode() if isinstance(entry, bytes) else entry


def _handle(conn, stream: str, group: str, entry_id, fields) -> int:
    """Ingest one entry and acknowledge it after its transaction committed."""
    from kith.listening import services
    from kith.listening.models import Source

    source_id, items = decode_batch(fields)
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        logger.warning("listening stream entry %s: source %s is gone", entry_id, source_id)
        conn.xack(stream, group, entry_id)
        return 0
    result = services.ingest(source, items)  # commits before returning
    conn.xack(stream, group, entry_id)
    return result.created


def _give_up_on_poison(conn, stream: str, group: str, consumer: str) -> None:
    """Acknowledge entries delivered too often (logged), so they stop blocking the group."""
    pending = conn.xpending_range(stream, group, min="-", max="+", count=100, consumername=consumer)
    for row in pending:
        if row["times_delivered"] > MAX_DELIVERIES:
            logger.error(
                "listening stream entry %s failed %s times; dropped",
                row["message_id"],
                row["times_delivered"],
            )
            conn.xack(stream, group, row["message_id"])


def consume(
    *,
    consumer: str,
    conn=None,
    stream: str = STREAM,
    group: str = GROUP,
    count: int = 10,
    block_ms: int | None = None,
    claim_idle_ms: int = CLAIM_IDLE_MS,
) -> int:
    """One round: claim stale entries, then read new ones; returns entries handled.

    An entry whose ingest raises stays pending (no XACK) and is retried by a later claim.
    """
    conn = conn or client()
    ensure_group(conn, stream, group)
    handled = 0
    # Stale entries of dead (or slow) consumers first.
    claimed = conn.xautoclaim(stream, group, consumer, min_idle_time=claim_idle_ms, count=count)
    entries = list(claimed[1]) if claimed else []
    if entries:
        _give_up_on_poison(conn, stream, group, consumer)
    response = conn.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    for _stream, rows in response or []:
        entries += rows
    for entry_id, fields in entries:
        if not fields:
            continue  # claimed but trimmed away meanwhile
        try:
            _handle(conn, stream, group, entry_id, fields)
        except Exception:
            logger.exception("listening stream entry %s failed; it stays pending", entry_id)
        else:
            handled += 1
    return handled


def consume_available(
    *, consumer: str, conn=None, stream: str = STREAM, max_rounds: int = 50
) -> int:
    """Drain what is waiting now (no blocking): the embedded worker's periodic job."""
    conn = conn or client()
    total = 0
    for _ in range(max_rounds):
        handled = consume(consumer=consumer, conn=conn, stream=stream, count=20)
        if not handled:
            break
        total += handled
    return total
