"""The IMAP poller: fetch unseen messages from one mailbox and ingest each.

``KITH_IMAP_URL`` looks like ``imaps://user:password@imap.example.com:993/INBOX``
(``imap://`` for plain or STARTTLS-less servers in tests). A message is flagged
``\\Seen`` only after it was ingested (or recognised as a duplicate), so a crash in
between re-fetches it and ingestion's Message-ID check keeps it from doubling.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from kith.core.context import channel
from kith.core.errors import KithError
from kith.service import inbound

logger = logging.getLogger("kith.service.imap")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    password: str
    mailbox: str
    ssl: bool


def parse_url(url: str) -> ImapSettings:
    parts = urlparse(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("KITH_IMAP_URL must look like imaps://user:pass@host:993/INBOX")
    ssl = parts.scheme == "imaps"
    return ImapSettings(
        host=parts.hostname,
        port=parts.port or (993 if ssl else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        ssl=ssl,
    )


def poll(url: str, *, limit: int = 200) -> dict[str, int]:
    """Ingest up to ``limit`` unseen messages; returns counts per outcome."""
    if not url:
        raise ValueError("KITH_IMAP_URL is not set.")
    cfg = parse_url(url)
    client_cls = imaplib.IMAP4_SSL if cfg.ssl else imaplib.IMAP4
    counts: dict[str, int] = {}
    client = client_cls(cfg.host, cfg.port)
    try:
        if cfg.user:
            client.login(cfg.user, cfg.password)
        client.select(cfg.mailbox)
        status, data = client.uid("search", None, "UNSEEN")
        if status != "OK":
            raise RuntimeError(f"IMAP search failed: {status}")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            status, fetched = client.uid("fetch", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
            if status != "OK" or raw is None:
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            try:
                with channel("email"):
                    result = inbound.ingest_email(raw=raw, source="imap")
            except KithError as exc:
                logger.warning("IMAP message %s rejected: %s", uid, exc)
                counts["rejected"] = counts.get("rejected", 0) + 1
            except Exception:
                logger.exception("IMAP message %s failed; it stays unseen for the next poll", uid)
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            else:
                counts[result.outcome] = counts.get(result.outcome, 0) + 1
            client.uid("store", uid, "+FLAGS", "(\\Seen)")
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()
    return counts
