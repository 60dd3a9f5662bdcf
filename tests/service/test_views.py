"""Web UI: queue view, case page (conversation, notes marked internal), forms, upload,
reports, the public CSAT page, and who gets what (portal users get 404)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test import Client

from kith.service import services
from kith.service.models import Case, CaseMessage, CsatResponse, Status
from tests.conftest import login
from tests.service.conftest import MONDAY_10

DATA = Path(__file__).parent / "data"


@pytest.fixture
def case(new_case, bob):
    case = new_case(assignee=bob)
    services.add_message(
        actor=bob, case=case, kind="note", body="VIP — handle with care", at=MONDAY_10
    )
    services.add_message(
        actor=bob, case=case, kind="reply", body="We are looking into it.", at=MONDAY_10
    )
    return case


def test_queue_view_lists_with_sla_badges(bob, case, new_case):
    other = new_case(subject="Late one", at=MONDAY_10)
    services.check_breaches(now=MONDAY_10.replace(hour=15), notify=False)
    page = login(bob).get("/service/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Printer is on fire" in html and "Late one" in html
    assert "Breached" in html
    assert other.token.strip("[]").replace("#CASE-", "#") in html
    filtered = login(bob).get("/service/", {"breached": "no"}).content.decode()
    assert "Late one" not in filtered
    bad = login(bob).get("/service/", {"priority": "whatever"})
    assert bad.status_code == 200 and "One of:" in bad.content.decode()


def test_case_page_shows_conversation_and_distinguishes_notes(bob, case, ana):
    html = login(bob).get(f"/service/cases/{case.public_id}/").content.decode()
    assert "Internal note" in html and "VIP — handle with care" in html
    assert "msg-internal" in html
    assert "We are looking into it." in html
    assert f"/people/{ana.public_id}/" in html
    assert "First response" in html


def test_portal_user_is_sent_to_the_portal_everywhere(carol, carol_person, new_case, bob):
    case = new_case(requester=carol_person)
    services.add_message(actor=bob, case=case, kind="note", body="secret note", at=MONDAY_10)
    client = login(carol)
    for url in (
        "/service/",
        f"/service/cases/{case.public_id}/",
        "/service/breaches/",
        "/service/csat/",
        "/service/upload/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/", url
        assert b"secret note" not in response.content


def test_html_mail_is_sanitised_on_the_case_page(bob, queue, policies, tmp_media):
    from kith.service import inbound

    result = inbound.ingest_email(raw=(DATA / "html_only.eml").read_bytes(), source="test")
    services.assign_case(actor=bob, case=result.case, assignee=bob)
    html = login(bob).get(f"/service/cases/{result.case.public_id}/").content.decode()
    assert "charged twice" in html
    assert "<script>alert" not in html and "onclick" not in html and "onerror" not in html
    assert "Show original formatting" in html
    assert 'href="https://example.org/inv/1"' in html  # links survive sanitising
    assert "tracker.example" not in html  # remote images do not


def test_reply_form_and_status_actions(bob, case, mailoutbox):
    client = login(bob)
    r = client.post(
        f"/service/cases/{case.public_id}/messages/", {"kind": "reply", "body": "Fixed now."}
    )
    assert r.status_code == 302
    assert CaseMessage.objects.filter(case=case, body_text="Fixed now.").exists()
    r = client.post(f"/service/cases/{case.public_id}/messages/", {"kind": "reply", "body": ""})
    assert r.status_code == 422
    r = client.post(f"/service/cases/{case.public_id}/status/", {"status": "closed"}, follow=True)
    assert "Cannot go from open to closed" in r.content.decode()
    client.post(f"/service/cases/{case.public_id}/status/", {"status": "resolved"})
    case.refresh_from_db()
    assert case.status == Status.RESOLVED
    page = client.get(f"/service/cases/{case.public_id}/").content.decode()
    assert "Reopen" in page and "/service/csat/" in page


def test_viewer_sees_but_cannot_post(alice, vic, queue, case):
    services.update_queue(actor=alice, queue=queue, changes={"agents": [vic]})
    client = login(vic)
    page = client.get(f"/service/cases/{case.public_id}/")
    assert page.status_code == 200 and "reply-form" not in page.content.decode()
    r = client.post(f"/service/cases/{case.public_id}/messages/", {"kind": "note", "body": "x"})
    assert r.status_code == 403
    assert client.get("/service/cases/new/").status_code == 403


def test_create_and_edit_forms(bob, ana, queue, policies):
    client = login(bob)
    assert client.get("/service/cases/new/").status_code == 200
    r = client.post(
        "/service/cases/new/",
        {
            "subject": "From the form",
            "requester_email": "nobody@example.com",
            "origin": "phone",
            "priority": "high",
        },
    )
    assert r.status_code == 422 and "No person with this e-mail" in r.content.decode()
    r = client.post(
        "/service/cases/new/",
        {
            "subject": "From the form",
            "requester_email": "ANA@example.com",
            "origin": "phone",
            "priority": "high",
            "queue": queue.pk,
            "tags": "a, b",
        },
    )
    assert r.status_code == 302
    case = Case.objects.get(subject="From the form")
    assert case.requester == ana and case.origin == "phone"
    r = client.post(
        f"/service/cases/{case.public_id}/edit/",
        {"subject": "Renamed", "origin": "phone", "priority": "urgent", "queue": queue.pk},
    )
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.subject == "Renamed" and case.priority == "urgent"


def test_upload_page_creates_case(bob, queue, policies, tmp_media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login(bob)
    upload = SimpleUploadedFile("m.eml", (DATA / "latin1.eml").read_bytes())
    r = client.post("/service/upload/", {"file": upload, "queue": queue.pk})
    assert r.status_code == 302
    assert Case.objects.filter(subject__startswith="Réclamation").exists()
    bounce = SimpleUploadedFile("b.eml", (DATA / "bounce.eml").read_bytes())
    r = client.post("/service/upload/", {"file": bounce}, follow=True)
    assert "delivery failure" in r.content.decode()


def test_breach_and_csat_reports(alice, bob, case, new_case):
    services.check_breaches(now=MONDAY_10 + dt.timedelta(days=2), notify=False)
    html = login(alice).get("/service/breaches/").content.decode()
    assert "Support" in html and "Per agent" in html
    services.change_status(actor=alice, case=case, status=Status.RESOLVED)
    services.submit_csat(token=services.csat_token(case), rating=4, comment="ok")
    html = login(alice).get("/service/csat/").content.decode()
    assert "bob" in html and "4.0" in html


def test_public_csat_page_without_login(alice, case):
    services.change_status(actor=alice, case=case, status=Status.RESOLVED)
    token = services.csat_token(case)
    client = Client()
    page = client.get(f"/service/csat/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert case.subject in html and "VIP" not in html and "We are looking" not in html
    assert client.post(f"/service/csat/{token}/", {"rating": "9"}).status_code == 422
    r = client.post(f"/service/csat/{token}/", {"rating": "5", "comment": "Super"})
    assert r.status_code == 200 and "Thank you" in r.content.decode()
    assert CsatResponse.objects.get(case=case).rating == 5
    assert client.get("/service/csat/forged-token/").status_code == 404
