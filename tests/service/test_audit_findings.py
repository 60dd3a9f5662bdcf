"""Audit findings in e-mail to case: outsiders threading into someone else's case, and
malformed MIME that made ingestion fail with a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kith.core.errors import ValidationFailed
from kith.service import inbound, services
from kith.service.models import Case, CaseMessage, InboundMail, Status

DATA = Path(__file__).parent / "data"


def _first_case():
    raw = (DATA / "multipart_alternative.eml").read_bytes()  # from ana@example.com
    return inbound.ingest_email(raw=raw, source="test").case


def _mail(sender: str, subject: str, message_id: str, *, extra: str = "", body="Hi") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@example.com\r\n{extra}Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n\r\n{body}\r\n"
    ).encode()


def test_outsider_with_case_token_and_reply_headers_does_not_join_the_case(
    alice, ana, queue, policies, tmp_media
):
    case = _first_case()
    services.change_status(actor=alice, case=case, status=Status.PENDING_CUSTOMER)
    spoof = _mail(
        "Mallory <mallory@evil.example>",
        f"Re: {case.token} printer",
        "<evil-1@evil.example>",
        extra="In-Reply-To: <CAF1-ana-0001@mail.example.com>\r\n"
        "References: <CAF1-ana-0001@mail.example.com>\r\n",
        body="Please send the invoice to my address instead.",
    )
    result = inbound.ingest_email(raw=spoof, source="test")
    # Not Ana's case: a new case of Mallory's own.
    assert result.case.pk != case.pk
    assert result.outcome == InboundMail.Outcome.CREATED
    assert result.case.requester.display_name.startswith("Mallory")
    case.refresh_from_db()
    assert list(case.messages.values_list("from_email", flat=True)) == ["ana@example.com"]
    assert case.status == Status.PENDING_CUSTOMER  # not reopened by a stranger


def test_people_on_the_thread_still_thread_into_the_case(
    alice, ana, acme, queue, policies, tmp_media
):
    """Guards the fix: the requester, a colleague copied on the customer's mail and a
    member of the case's organisation still answer into the case."""
    from kith.people import services as people_services
    from tests.conftest import make_person

    first = _mail(
        "Ana Lima <ana@example.com>",
        "Printer broken",
        "<a-1@example.com>",
        extra="Cc: Ben <ben@example.com>\r\n",
    )
    case = inbound.ingest_email(raw=first, source="test").case
    ana_again = _mail("ana@example.com", f"Re: {case.token}", "<a-2@example.com>")
    assert inbound.ingest_email(raw=ana_again, source="test").case.pk == case.pk
    ben = _mail(
        "ben@example.com",
        "Re: Printer broken",
        "<b-1@example.com>",
        extra="In-Reply-To: <a-1@example.com>\r\n",
    )
    assert inbound.ingest_email(raw=ben, source="test").case.pk == case.pk
    services.update_case(actor=alice, case=case, changes={"organization": acme})
    cleo = make_person(alice, given="Cleo", family="Acme", email="cleo@acme.example")
    people_services.add_relationship(actor=alice, subject=cleo, role="employee", object=acme)
    colleague = _mail("cleo@acme.example", f"Re: {case.token}", "<c-1@acme.example>")
    assert inbound.ingest_email(raw=colleague, source="test").case.pk == case.pk
    assert Case.objects.count() == 1 and case.messages.count() == 4


def _deeply_nested(levels: int) -> bytes:
    raw = b"From: ana@example.com\r\nTo: support@example.com\r\nSubject: deep\r\n"
    raw += b"Message-ID: <deep-1@example.com>\r\n"
    for i in range(levels):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    raw += b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for i in reversed(range(levels)):
        raw += b"--b%d--\r\n" % i
    return raw


def test_deeply_nested_mime_is_rejected_not_a_server_error(api_as, bob, queue, tmp_media):
    raw = _deeply_nested(1500)  # about 100 KB
    with pytest.raises(ValidationFailed):
        inbound.ingest_email(raw=raw, source="test")
    client = api_as(bob)
    upload = SimpleUploadedFile("deep.eml", raw, content_type="message/rfc822")
    response = client.client.post("/api/cases/email", {"file": upload}, headers=client.headers)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "file"
    assert not Case.objects.exists() and not CaseMessage.objects.exists()
    assert InboundMail.objects.filter(outcome=InboundMail.Outcome.REJECTED).count() == 2


def test_a_public_reply_is_mailed_once_even_when_two_workers_run_the_job(
    settings, bob, new_case, monkeypatch
):
    from django.core import mail
    from django.core.mail import EmailMessage

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    case = new_case(assignee=bob)
    reply = services.add_message(actor=bob, case=case, kind="reply", body="Please restart it.")
    assert reply.to_email == "ana@example.com"
    real_send = EmailMessage.send
    calls = []

    def send(self, *args, **kwargs):
        calls.append(self.subject)
        if len(calls) == 1:  # a second worker runs the same job meanwhile
            services.deliver_reply(CaseMessage.objects.get(pk=reply.pk))
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send)
    assert services.deliver_reply(CaseMessage.objects.get(pk=reply.pk))
    assert len(mail.outbox) == 1
    assert CaseMessage.objects.get(pk=reply.pk).sent_at is not None
