"""E-mail from a person's page: compose, "Use template", send, timeline, delivery."""

from __future__ import annotations

import pytest
from django.core import mail

from kith.interactions.models import Interaction
from kith.mail import services
from kith.mail.models import OutgoingEmail
from kith.people.views import party_url
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _compose_url(person) -> str:
    return f"/mail/people/{person.public_id}/compose/"


def test_person_page_links_to_compose_for_writers_only(alice, vic):
    ana = make_person(alice, email="ana@example.com")
    assert _compose_url(ana) in client_for(alice).get(party_url(ana)).content.decode()
    assert _compose_url(ana) not in client_for(vic).get(party_url(ana)).content.decode()
    assert client_for(vic).get(_compose_url(ana)).status_code == 403


def test_use_template_fills_subject_and_body_for_the_person(alice, bob):
    template = services.create_template(
        actor=alice, name="Hello", subject="Hi {{ first_name }}", body="Dear {{ full_name }}"
    )
    ana = make_person(alice, email="ana@example.com")
    page = client_for(bob).get(_compose_url(ana) + f"?template={template.public_id}")
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["subject"] == "Hi Ana"
    assert form.initial["body"] == "Dear Ana Lima"
    assert "Use template" in page.content.decode()
    bad = client_for(bob).get(_compose_url(ana) + "?template=not-a-uuid")
    assert bad.status_code == 422 and "No such template" in bad.content.decode()


def test_send_logs_on_the_timeline_and_delivers(alice, bob):
    bob.email = "bob@ourco.example"
    bob.save()
    ana = make_person(alice, email="ana@example.com")
    client = client_for(bob)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda fn, using=None, robust=False: fn())
        r = client.post(
            _compose_url(ana),
            {"to": "ana@example.com", "subject": "About your order", "body": "It shipped."},
        )
    assert r.status_code == 302 and r.url == party_url(ana)
    row = OutgoingEmail.objects.get(party=ana)
    assert row.status == OutgoingEmail.Status.SENT
    interaction = Interaction.objects.get(party=ana, channel="email")
    assert interaction.direction == "out" and interaction.summary == "About your order"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@example.com"]
    assert mail.outbox[0].reply_to == ["bob@ourco.example"]
    assert mail.outbox[0].body == "It shipped."


def test_errors_are_field_errors(alice, bob):
    ana = make_person(alice, email="ana@example.com")
    r = client_for(bob).post(
        _compose_url(ana), {"to": "other@example.com", "subject": "", "body": ""}
    )
    assert r.status_code == 422
    assert {"to", "subject", "body"} <= set(r.context["form"].errors)
    assert not OutgoingEmail.objects.exists()


def test_a_person_without_address_cannot_be_emailed(alice, api_as):
    ana = make_person(alice)
    page = client_for(alice).get(_compose_url(ana))
    assert "has no e-mail address" in page.content.decode()
    r = api_as(alice).post(f"/api/people/{ana.public_id}/emails", {"subject": "S", "body": "B"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"


def test_api_send_and_access(alice, bob, dan, vic, carol, api_as):
    ana = make_person(alice, email="ana@example.com")
    private = make_person(alice, given="Pia", email="pia@example.com", visibility="private")
    r = api_as(bob).post(
        f"/api/people/{ana.public_id}/emails", {"subject": "Hello", "body": "Text"}
    )
    assert r.status_code == 201, r.content
    assert r.json()["to"] == "ana@example.com" and r.json()["status"] in ("queued", "sent")
    url = f"/api/people/{private.public_id}/emails"
    assert api_as(dan).post(url, {"subject": "S", "body": "B"}).status_code == 404
    assert api_as(vic).post(url, {"subject": "S", "body": "B"}).status_code == 404
    public = f"/api/people/{ana.public_id}/emails"
    assert api_as(vic).post(public, {"subject": "S", "body": "B"}).status_code == 403
    assert api_as(carol).post(url, {"subject": "S", "body": "B"}).status_code == 404


def test_subject_line_breaks_are_refused(alice):
    ana = make_person(alice, email="ana@example.com")
    with pytest.raises(Exception) as info:
        services.send_email(actor=alice, person=ana, subject="Hi\nBcc: x@evil", body="B")
    assert info.value.errors[0].field == "subject"


def test_the_timeline_shows_whether_each_email_went_out(alice, bob):
    ana = make_person(alice, email="ana@example.com")
    queued = services.send_email(actor=bob, person=ana, subject="Queued one", body="x")
    sent = services.send_email(actor=bob, person=ana, subject="Sent one", body="x")
    failed = services.send_email(actor=bob, person=ana, subject="Failed one", body="x")
    assert services.deliver(sent.pk)
    OutgoingEmail.objects.filter(pk=failed.pk).update(
        status=OutgoingEmail.Status.FAILED, error="Not sent: mailbox unavailable"
    )
    page = client_for(bob).get(party_url(ana)).content.decode()
    badges = {}
    for subject in ("Queued one", "Sent one", "Failed one"):
        entry = page.split(f'<p class="entry-summary">{subject}</p>', 1)[0].rsplit("<li", 1)[1]
        badges[subject] = entry.split('data-testid="email-delivery">', 1)[1].split("<", 1)[0]
    assert badges == {"Queued one": "Queued", "Sent one": "Sent", "Failed one": "Not sent"}
    assert "Not sent: mailbox unavailable" in page
    assert queued.interaction_id and OutgoingEmail.objects.get(pk=queued.pk).status == "queued"
    # A logged e-mail that Kith did not send (typed in by hand) has no delivery badge.
    from kith.interactions import services as interaction_services

    interaction_services.log_interaction(
        actor=bob, party=ana, channel="email", direction="out", kind="email", summary="By hand"
    )
    page = client_for(bob).get(party_url(ana)).content.decode()
    entry = page.split('<p class="entry-summary">By hand</p>', 1)[0].rsplit("<li", 1)[1]
    assert "email-delivery" not in entry
