"""The inbound SMTP endpoint: an aiosmtpd handler that ingests each accepted message.

Run it with ``manage.py smtp_inbound`` behind the MTA that receives the support
domain's mail (or expose it directly on a private network). Recipients may be limited
to the queues' addresses so the endpoint is not an open sink.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from kith.core.context import channel
from kith.core.errors import KithError
from kith.service import inbound
from kith.service.models import Queue

logger = logging.getLogger("kith.service.smtp")


def _ingest(raw: bytes) -> str:
    close_old_connections()
    try:
        with channel("email"):
            return inbound.ingest_email(raw=raw, source="smtp").outcome
    finally:
        # The handler's worker thread holds its own connection; give it back after
        # each message rather than keeping it open between (possibly rare) mails.
        connections.close_all()


def _known_address(address: str) -> bool:
    close_old_connections()
    try:
        return Queue.objects.filter(email_address__iexact=address).exists()
    finally:
        connections.close_all()


class InboundHandler:
    """aiosmtpd handler; ``restrict_recipients`` accepts only queue addresses."""

    def __init__(self, *, restrict_recipients: bool = False):
        self.restrict_recipients = restrict_recipients

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.restrict_recipients and not await sync_to_async(_known_address)(address):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            outcome = await sync_to_async(_ingest, thread_sensitive=True)(raw)
        except KithError as exc:
            return f"550 5.6.0 {exc.message}"[:500]
        except Exception:
            logger.exception("inbound SMTP message failed")
            return "451 4.3.0 Temporary failure, try again later"
        logger.info("inbound SMTP message: %s", outcome)
        return "250 Message accepted"
