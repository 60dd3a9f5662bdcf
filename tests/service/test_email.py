"""E-mail to case: parsing real .eml fixtures, threading, identity, attachments,
auto-replies and bounces, the IMAP poller (against a stub client) and the upload API."""

from __future__ import annotations

import imaplib
from pathlib import Path

import pytest

from kith.core.errors import ValidationFailed
from kith.interactions.models import Interaction
from kith.people.models import ContactPoint, Party
from kith.service import imap, inbound, mailparse, services
from kith.service.models import Case, CaseMessage, InboundMail, Status

DATA = Path(__file__).parent / "data"


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


# ---------------------------------------------------------------- parsing


def test_parse_multipart_alternative_prefers_text():
    mail = mailparse.parse(raw("multipart_alternative.eml"))
    assert mail.message_id == "<CAF1-ana-0001@mail.example.com>"
    assert mail.from_email == "ana@example.com" and mail.from_name == "Ana Lima"
    assert "won’t print" in mail.text
    assert "<b>E-42</b>" in mail.html
    assert not mail.auto_reply and not mail.bounce


def test_parse_html_only_converts_safely():
    mail = mailparse.parse(raw("html_only.eml"))
    assert "Invoice #1 is charged twice." in mail.text
    assert "- first charge" in mail.text
    assert "alert" not in mail.text and "color: red" not in mail.text


@pytest.mark.parametrize(
    "name,subject,snippet",
    [
        ("latin1.eml", "Réclamation à propos de la livraison", "le colis n'est pas arrivé"),
        ("windows1252.eml", "Refund of 50 EUR", "“refund” of 50€ – where"),
        ("shift_jis.eml", "商品が届きません", "注文番号 1234 の商品が届きません"),
    ],
)
def test_parse_non_utf8_charsets(name, subject, snippet):
    mail = mailparse.parse(raw(name))
    assert mail.subject == subject
    assert snippet in mail.text


def test_parse_thread_headers_and_strip_quotes():
    mail = mailparse.parse(raw("thread_reply.eml"))
    assert mail.in_reply_to == "<older-11@mail.example.com>"
    assert len(mail.references) == 12
    assert mail.thread_ids[0] == "<older-11@mail.example.com>"
    assert mailparse.strip_quoted(mail.text) == "Still broken after the restart, sorry."


def test_detects_auto_reply_and_bounce():
    assert mailparse.parse(raw("auto_reply.eml")).auto_reply
    bounce = mailparse.parse(raw("bounce.eml"))
    assert bounce.bounce and not bounce.auto_reply


def test_parse_attachments_with_safe_names():
    mail = mailparse.parse(raw("attachment.eml"))
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("contract.pdf", "application/pdf"),
        ("screen shot.png", "image/png"),
    ]
    assert mail.attachments[0].content.startswith(b"%PDF")


def test_unknown_charset_does_not_fail():
    msg = b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff\r\n"
    assert "qapla" in mailparse.parse(msg).text


# ---------------------------------------------------------------- ingestion


@pytest.fixture
def ana_known(ana):
    return ana


def test_new_mail_creates_case_for_known_person(ana_known, queue, policies, tmp_media):
    result = inbound.ingest_email(raw=raw("multipart_alternative.eml"), source="test")
    assert result.outcome == "created"
    case = result.case
    assert case.requester == ana_known
    assert case.origin == "email"
    assert case.queue == queue  # routed by the To address
    assert case.subject == "Printer shows error E-42"
    first = case.messages.get()
    assert first.kind == "inbound" and first.message_id == "<CAF1-ana-0001@mail.example.com>"
    timeline = Interaction.objects.get(party=ana_known, kind="case_message")
    assert timeline.direction == "in" and timeline.channel == "email"


def test_reply_threads_by_references_and_reopens(alice, ana_known, queue, policies, tmp_media):
    case = inbound.ingest_email(raw=raw("multipart_alternative.eml"), source="test").case
    services.change_status(actor=alice, case=case, status=Status.PENDING_CUSTOMER)
    result = inbound.ingest_email(raw=raw("thread_reply.eml"), source="test")
    assert result.outcome == "threaded" and result.case.pk == case.pk
    case.refresh_from_db()
    assert case.status == Status.OPEN
    assert case.messages.count() == 2
    assert result.message.body_text == "Still broken after the restart, sorry."
    # The same message again is a no-op.
    again = inbound.ingest_email(raw=raw("thread_reply.eml"), source="test")
    assert again.outcome == "duplicate" and case.messages.count() == 2


def test_threads_by_case_token_in_subject(ana_known, queue, policies, tmp_media):
    case = inbound.ingest_email(raw=raw("multipart_alternative.eml"), source="test").case
    msg = (
        f"From: ana@example.com\r\nTo: support@example.com\r\nSubject: Re: {case.token} printer\r\n"
        "Message-ID: <fresh-1@example.com>\r\n\r\nAny news?\r\n"
    ).encode()
    result = inbound.ingest_email(raw=msg, source="test")
    assert result.outcome == "threaded" and result.case.pk == case.pk


def test_unknown_sender_becomes_person_matched_next_time(queue, policies, tmp_media):
    result = inbound.ingest_email(raw=raw("html_only.eml"), source="test")
    person = result.case.requester
    assert person.kind == Party.Kind.PERSON and person.display_name == "Bruno Costa"
    assert ContactPoint.objects.get(party=person).normalized == "bruno.costa@example.org"
    second = (
        b"From: BRUNO.COSTA@example.org\r\nTo: support@example.com\r\nSubject: another one\r\n"
        b"Message-ID: <b2@example.org>\r\n\r\nhi\r\n"
    )
    assert inbound.ingest_email(raw=second, source="test").case.requester == person
    assert Party.objects.filter(kind="person", display_name="Bruno Costa").count() == 1


def test_html_body_kept_and_sanitised_for_display(queue, policies, tmp_media):
    import nh3

    message = inbound.ingest_email(raw=raw("html_only.eml"), source="test").message
    assert "<script>" in message.body_html  # stored as received
    clean = nh3.clean(message.body_html)
    assert "script" not in clean and "onclick" not in clean and "onerror" not in clean


def test_auto_reply_and_bounce_do_not_create_cases(ana_known, queue, policies, tmp_media):
    for name, outcome in (("auto_reply.eml", "auto_reply"), ("bounce.eml", "bounce")):
        result = inbound.ingest_email(raw=raw(name), source="test")
        assert result.outcome == outcome and result.case is None
    assert Case.objects.count() == 0
    assert set(InboundMail.objects.values_list("outcome", flat=True)) == {"auto_reply", "bounce"}


def test_attachments_stored_under_media_root(queue, policies, tmp_media):
    message = inbound.ingest_email(raw=raw("attachment.eml"), source="test").message
    files = list(message.attachments.order_by("id"))
    assert [a.filename for a in files] == ["contract.pdf", "screen shot.png"]
    path = Path(files[0].file.path)
    assert path.is_file() and str(path).startswith(str(tmp_media))
    assert path.read_bytes().startswith(b"%PDF")


def test_non_utf8_mails_become_cases(queue, policies, tmp_media):
    for name in ("latin1.eml", "windows1252.eml", "shift_jis.eml"):
        assert inbound.ingest_email(raw=raw(name), source="test").outcome == "created"
    jp = Case.objects.get(subject="商品が届きません")
    assert jp.requester.display_name == "山田 太郎"


def test_mail_without_sender_is_rejected(queue):
    with pytest.raises(ValidationFailed):
        inbound.ingest_email(raw=b"Subject: hi\r\n\r\nbody\r\n", source="test")


# ---------------------------------------------------------------- upload API


def test_upload_eml_via_api(api_as, bob, queue, policies, tmp_media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_as(bob)
    upload = SimpleUploadedFile("m.eml", raw("attachment.eml"), content_type="message/rfc822")
    response = client.client.post("/api/cases/email", {"file": upload}, headers=client.headers)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "created" and body["case"]["origin"] == "email"
    case = Case.objects.get(public_id=body["case"]["id"])
    attachment = case.messages.get().attachments.first()
    download = client.get(f"/api/attachments/{attachment.public_id}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    bounce = SimpleUploadedFile("b.eml", raw("bounce.eml"))
    response = client.client.post("/api/cases/email", {"file": bounce}, headers=client.headers)
    assert response.status_code == 200 and response.json()["outcome"] == "bounce"


def test_attachment_hidden_from_other_agents(api_as, dan, alice, other_queue, policies, tmp_media):
    case = inbound.ingest_email(raw=raw("attachment.eml"), source="test", queue=other_queue).case
    attachment = case.messages.get().attachments.first()
    assert api_as(dan).get(f"/api/attachments/{attachment.public_id}").status_code == 404


# ---------------------------------------------------------------- IMAP poller


class FakeImap:
    """Just the imaplib calls the poller makes, over an in-memory mailbox."""

    instances: list[FakeImap] = []

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.messages = {b"1": raw("multipart_alternative.eml"), b"2": raw("bounce.eml")}
        self.seen: set[bytes] = set()
        self.logged_in = None
        FakeImap.instances.append(self)

    def login(self, user, password):
        self.logged_in = (user, password)

    def select(self, mailbox):
        self.mailbox = mailbox
        return "OK", [b"2"]

    def uid(self, command, *args):
        if command == "search":
            return "OK", [b" ".join(k for k in self.messages if k not in self.seen)]
        if command == "fetch":
            return "OK", [(b"1 (UID " + args[0] + b" BODY[] {1}", self.messages[args[0]]), b")"]
        if command == "store":
            self.seen.add(args[0])
            return "OK", []
        raise AssertionError(command)

    def logout(self):
        pass


def test_imap_poll_ingests_unseen_and_marks_seen(monkeypatch, ana, queue, policies, tmp_media):
    monkeypatch.setattr(imaplib, "IMAP4", FakeImap)
    counts = imap.poll("imap://help%40example.com:s3cret@imap.example.com:1143/Support")
    fake = FakeImap.instances[-1]
    assert (fake.host, fake.port, fake.mailbox) == ("imap.example.com", 1143, "Support")
    assert fake.logged_in == ("help@example.com", "s3cret")
    assert counts == {"created": 1, "bounce": 1}
    assert fake.seen == {b"1", b"2"}
    assert CaseMessage.objects.filter(message_id="<CAF1-ana-0001@mail.example.com>").exists()


def test_imap_url_is_validated():
    with pytest.raises(ValueError):
        imap.parse_url("http://example.com")


def test_reply_in_a_long_thread_carries_the_chain(bob, ana_known, queue, policies, tmp_media):
    inbound.ingest_email(raw=raw("multipart_alternative.eml"), source="test")
    case = inbound.ingest_email(raw=raw("thread_reply.eml"), source="test").case
    reply = services.add_message(actor=bob, case=case, kind="reply", body="On our way.")
    assert reply.in_reply_to == "<CAF1-ana-0013@mail.example.com>"
    refs = reply.references.split()
    assert refs[0] == "<CAF1-ana-0001@mail.example.com>"  # the thread's root stays first
    assert refs[-1] == "<CAF1-ana-0013@mail.example.com>"
    assert "<older-11@mail.example.com>" in refs and len(refs) == 13
    assert reply.subject.endswith(case.token)
