"""My cases in the portal: open, read, reply, attach, close, rate — and what a customer
must never see (another customer's case, internal notes, a note's files)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kith.interactions.models import Interaction
from kith.service import services
from kith.service.models import Case, CaseMessage, CsatResponse
from tests.conftest import client_for


def _open(client, subject="Printer on fire", body="It smokes.", **extra):
    return client.post("/portal/cases/new/", {"subject": subject, "body": body, **extra})


@pytest.fixture
def carol_case(carol):
    return services.open_case_as_customer(actor=carol, subject="Login fails", body="Help")


def test_customer_opens_a_case_from_the_portal(carol):
    client = client_for(carol)
    upload = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    response = _open(client, files=[upload])
    case = Case.objects.get(subject="Printer on fire")
    assert (
        response.status_code == 302 and response["Location"] == f"/portal/cases/{case.public_id}/"
    )
    assert case.requester_id == carol.person_id and case.origin == "portal"
    message = case.messages.get()
    assert message.kind == "inbound" and message.body_text == "It smokes."
    assert message.attachments.get().filename == "screen.png"
    timeline = Interaction.objects.get(party=carol.person, kind="case_message")
    assert timeline.channel == "portal"
    page = client.get(response["Location"]).content.decode()
    assert "It smokes." in page and "screen.png" in page


def test_open_case_validates_each_field(carol):
    client = client_for(carol)
    response = _open(client, subject="", body="")
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_subject-error"' in html and 'id="id_body-error"' in html
    assert _open(client, subject="x" * 301).status_code == 422
    assert not Case.objects.exists()


def test_attachments_are_bounded(carol, settings):
    settings.KITH_PORTAL_MAX_ATTACHMENT_BYTES = 1000
    client = client_for(carol)
    big = SimpleUploadedFile("big.bin", b"0" * 1001)
    response = _open(client, files=[big])
    assert response.status_code == 422
    assert "big.bin: at most 1000\xa0bytes." in response.content.decode()
    assert not Case.objects.exists()  # never a half-written case
    many = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(6)]
    response = _open(client, files=many)
    assert response.status_code == 422 and "At most 5 files." in response.content.decode()
    assert not Case.objects.exists()


def test_internal_notes_never_reach_the_customer(carol, carol_case, bob, alice):
    services.add_message(actor=alice, case=carol_case, kind="reply", body="We are on it.")
    note = services.add_message(
        actor=alice, case=carol_case, kind="note", body="SECRET: customer is grumpy"
    )
    from kith.service.models import Attachment

    note_file = Attachment(message=note, filename="internal.txt", size=3)
    note_file.file.save("internal.txt", SimpleUploadedFile("internal.txt", b"abc"), save=False)
    note_file.save()
    client = client_for(carol)
    page = client.get(f"/portal/cases/{carol_case.public_id}/").content.decode()
    assert "We are on it." in page
    assert "SECRET" not in page and "internal.txt" not in page
    api = client.get(f"/api/portal/cases/{carol_case.public_id}").json()
    assert [m["kind"] for m in api["messages"]] == ["inbound", "reply"]
    assert "SECRET" not in str(api)
    # A note's file cannot be fetched even by guessing its id.
    assert client.get(f"/portal/cases/files/{note_file.public_id}/").status_code == 404
    # Nor through the notifications: the customer heard about the reply, not the note.
    assert [n["text"] for n in client.get("/api/portal/notifications").json()["items"]] == [
        f"**{alice.get_username()}** replied on your case {carol_case.token}: Login fails"
    ]


def test_another_customers_case_is_404_everywhere(carol, carol_case, olga):
    client = client_for(olga)
    pid = carol_case.public_id
    assert client.get(f"/portal/cases/{pid}/").status_code == 404
    assert client.post(f"/portal/cases/{pid}/reply/", {"body": "hi"}).status_code == 404
    assert client.post(f"/portal/cases/{pid}/close/").status_code == 404
    assert client.post(f"/portal/cases/{pid}/rate/", {"rating": "1"}).status_code == 404
    assert client.get(f"/api/portal/cases/{pid}").status_code == 404
    assert (
        client.post(
            f"/api/portal/cases/{pid}/messages", {"body": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert "Login fails" not in client.get("/portal/cases/?status=all").content.decode()
    assert client.get("/api/portal/cases").json()["items"] == []
    carol_case.refresh_from_db()
    assert carol_case.status == "new" and carol_case.messages.count() == 1
    # A customer gets 404 from the staff API as well.
    assert client.get(f"/api/cases/{pid}").status_code == 404


def test_organisation_cases_are_shared_only_when_the_organisation_allows(gina, gus, globex):
    case = services.open_case_as_customer(actor=gina, subject="Globex outage", body="Down")
    assert case.organization_id == globex.pk
    gus_client = client_for(gus)
    assert gus_client.get(f"/portal/cases/{case.public_id}/").status_code == 404
    assert "Globex outage" not in gus_client.get("/portal/cases/?status=all").content.decode()
    globex.portal_shares_cases = True
    globex.save(update_fields=["portal_shares_cases"])
    page = gus_client.get(f"/portal/cases/{case.public_id}/")
    assert page.status_code == 200 and "Down" in page.content.decode()
    listed = gus_client.get("/api/portal/cases").json()["items"]
    assert [(c["subject"], c["mine"]) for c in listed] == [("Globex outage", False)]
    # A colleague may write on it, but only the requester rates it.
    assert (
        gus_client.post(f"/portal/cases/{case.public_id}/reply/", {"body": "Same here"}).status_code
        == 302
    )
    services.change_status(actor=None, case=case, status="resolved")
    assert (
        gus_client.post(f"/portal/cases/{case.public_id}/rate/", {"rating": "5"}).status_code == 403
    )
    assert not CsatResponse.objects.exists()


def test_sharing_ends_with_the_employment(gina, gus, globex):
    from kith.people.models import Relationship

    globex.portal_shares_cases = True
    globex.save(update_fields=["portal_shares_cases"])
    case = services.open_case_as_customer(actor=gina, subject="Globex outage", body="Down")
    import datetime as dt

    Relationship.objects.filter(subject=gus.person).update(
        valid_to=dt.date.today() - dt.timedelta(days=1)
    )
    assert client_for(gus).get(f"/portal/cases/{case.public_id}/").status_code == 404


def test_reply_reopens_and_close_and_rate(carol, carol_case, alice):
    client = client_for(carol)
    pid = carol_case.public_id
    services.add_message(actor=alice, case=carol_case, kind="reply", body="Try again")
    services.change_status(actor=alice, case=carol_case, status="resolved")
    assert client.post(f"/portal/cases/{pid}/reply/", {"body": "Still broken"}).status_code == 302
    carol_case.refresh_from_db()
    assert carol_case.status == "open"
    assert client.post(f"/portal/cases/{pid}/reply/", {"body": ""}).status_code == 422
    # Close: the customer says it is settled.
    assert client.post(f"/portal/cases/{pid}/close/").status_code == 302
    carol_case.refresh_from_db()
    assert carol_case.status == "closed"
    assert client.post(f"/portal/cases/{pid}/close/").status_code == 409
    # Rate once, 1 to 5.
    assert client.post(f"/portal/cases/{pid}/rate/", {"rating": "9"}).status_code == 422
    assert (
        client.post(f"/portal/cases/{pid}/rate/", {"rating": "4", "comment": "ok"}).status_code
        == 302
    )
    assert CsatResponse.objects.get(case=carol_case).rating == 4
    assert client.post(f"/portal/cases/{pid}/rate/", {"rating": "5"}).status_code == 409
    assert "You rated this case 4/5" in client.get(f"/portal/cases/{pid}/").content.decode()


def test_rating_an_open_case_is_refused(carol, carol_case):
    response = client_for(carol).post(
        f"/portal/cases/{carol_case.public_id}/rate/", {"rating": "5"}
    )
    assert response.status_code == 409
    assert not CsatResponse.objects.exists()


def test_customer_messages_carry_the_customer_as_sender(carol, carol_case):
    message = CaseMessage.objects.get(case=carol_case)
    assert message.sender_id == carol.person_id and message.author_id == carol.pk


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_user_text_is_escaped_on_portal_pages(carol, alice):
    client = client_for(carol)
    _open(client, subject=f"Subject {XSS}", body=f"Body {XSS}")
    case = Case.objects.get()
    services.add_message(actor=alice, case=case, kind="reply", body=f"Reply {XSS}")
    for url in ("/portal/", "/portal/cases/", f"/portal/cases/{case.public_id}/"):
        html = client.get(url).content.decode()
        assert "<script>alert(1)" not in html, url
        assert "<img src=x" not in html, url
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;"
        in client.get(f"/portal/cases/{case.public_id}/").content.decode()
    )


def test_openapi_lists_the_portal_api(db):
    from django.test import Client

    paths = Client().get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/portal/cases",
        "/api/portal/cases/{public_id}/messages",
        "/api/portal/profile",
        "/api/portal/notifications",
        "/api/portal/signup",
    ):
        assert path in paths, path


def test_errors_render_in_the_portal_layout(olga, carol_case):
    page = client_for(olga).get(f"/portal/cases/{carol_case.public_id}/")
    html = page.content.decode()
    assert page.status_code == 404
    assert "/static/portal/portal.css" in html and "Back to the portal" in html
    assert "Login fails" not in html
