"""End-to-end against real SMTP servers (aiosmtpd on free ports): inbound mail through
the SMTP endpoint becomes a case; an agent's public reply leaves through Django's SMTP
backend with Message-ID / In-Reply-To / References; the customer's answer to it threads
back into the same case."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from kith.service import services
from kith.service.models import Case, CaseMessage
from kith.service.smtp import InboundHandler

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """An SMTP sink that keeps what it receives."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        )
        return "250 OK"


@pytest.fixture
def inbound_server():
    port = free_port()
    controller = Controller(InboundHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def outbound_server():
    port = free_port()
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, recorder
    controller.stop()


def send(port: int, raw: bytes, to: str = "support@example.com") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("ana@example.com", [to], raw)


def test_inbound_smtp_to_case_reply_out_and_thread_back(
    inbound_server, outbound_server, alice, bob, ana, queue, policies, tmp_media
):
    send(inbound_server, (DATA / "multipart_alternative.eml").read_bytes())
    case = Case.objects.get()
    assert case.requester == ana and case.origin == "email"

    out_port, recorder = outbound_server
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=out_port,
        EMAIL_USE_TLS=False,
        DEFAULT_FROM_EMAIL="help@example.com",
    ):
        reply = services.add_message(actor=bob, case=case, kind="reply", body="Please restart it.")
        services.add_message(actor=bob, case=case, kind="note", body="internal: printer is old")
    reply.refresh_from_db()
    assert reply.sent_at is not None, reply.send_error
    assert len(recorder.messages) == 1  # the note never leaves
    rcpts, data = recorder.messages[0]
    assert rcpts == ["ana@example.com"]
    sent = email.message_from_bytes(data, policy=email.policy.default)
    assert sent["Message-ID"] == reply.message_id
    assert sent["In-Reply-To"] == "<CAF1-ana-0001@mail.example.com>"
    assert sent["References"] == "<CAF1-ana-0001@mail.example.com>"
    assert case.token in sent["Subject"]
    assert sent["From"] == "support@example.com"  # the queue's address
    assert "Please restart it." in sent.get_body(("plain",)).get_content()
    assert "internal" not in data.decode()

    answer = (
        f"From: Ana Lima <ana@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: Re: {sent['Subject']}\r\nMessage-ID: <ana-answer@mail.example.com>\r\n"
        f"In-Reply-To: {sent['Message-ID']}\r\nReferences: {sent['References']} {sent['Message-ID']}\r\n"
        f"\r\nThat worked, thanks!\r\n\r\nOn Mon, Support wrote:\r\n> Please restart it.\r\n"
    ).encode()
    send(inbound_server, answer)
    assert Case.objects.count() == 1
    last = CaseMessage.objects.filter(case=case).order_by("-id").first()
    assert last.kind == "inbound" and last.body_text == "That worked, thanks!"


def test_inbound_smtp_ignores_bounce(inbound_server, queue, policies, tmp_media):
    send(inbound_server, (DATA / "bounce.eml").read_bytes())
    send(inbound_server, (DATA / "auto_reply.eml").read_bytes())
    assert Case.objects.count() == 0


def test_inbound_smtp_rejects_mail_without_sender(inbound_server, queue):
    with pytest.raises(smtplib.SMTPDataError) as exc:
        send(inbound_server, b"Subject: hi\r\n\r\nno from\r\n")
    assert exc.value.smtp_code == 550
