"""Audit finding in e-mail delivery: a queued e-mail must leave at most once, even when
two workers pick up the same delivery job (at-least-once task delivery)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from kith.mail import services
from kith.mail.models import OutgoingEmail
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_second_worker_does_not_send_the_same_email_again(alice, bob, monkeypatch):
    ana = make_person(alice, email="ana@example.com")
    row = services.send_email(actor=bob, person=ana, subject="Your order", body="It shipped.")
    real_send = EmailMessage.send
    calls = []

    def send(self, *args, **kwargs):
        calls.append(self.subject)
        if len(calls) == 1:
            # While the first worker talks to the SMTP server, a second worker runs
            # the same job (the queue delivers at least once).
            services.deliver(row.pk)
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send)
    assert services.deliver(row.pk)
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    assert OutgoingEmail.objects.get(pk=row.pk).status == OutgoingEmail.Status.SENT


def test_a_failed_send_can_be_retried(alice, bob, monkeypatch):
    """Guards the fix: a claimed row whose send fails goes back to the queue."""
    ana = make_person(alice, email="ana@example.com")
    row = services.send_email(actor=bob, person=ana, subject="Retry me", body="x")

    def broken(self, *args, **kwargs):
        raise OSError("SMTP down")

    with monkeypatch.context() as mp:
        mp.setattr(EmailMessage, "send", broken)
        with pytest.raises(OSError):
            services.deliver(row.pk)
    failed = OutgoingEmail.objects.get(pk=row.pk)
    assert failed.status == OutgoingEmail.Status.QUEUED and "SMTP down" in failed.error
    assert failed.sent_at is None
    assert services.deliver(row.pk)
    assert len(mail.outbox) == 1
    assert OutgoingEmail.objects.get(pk=row.pk).status == OutgoingEmail.Status.SENT
