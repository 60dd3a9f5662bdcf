"""E-mail templates and the e-mails staff send to a person from Kith.

A template's subject and body hold placeholders (``{{ first_name }}``) filled by
``kith.mail.placeholders``: a fixed list of names, never template code. Each sent
e-mail is an ``OutgoingEmail`` row beside the timeline interaction that records it,
so delivery (queued, sent, failed) can be followed without touching the timeline,
which is append-only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import KithModel


class EmailTemplate(KithModel):
    name = models.CharField(max_length=120, unique=True)
    subject = models.CharField(max_length=300)
    body = models.TextField(max_length=50_000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OutgoingEmail(KithModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    party = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    interaction = models.OneToOneField(
        "interactions.Interaction", on_delete=models.CASCADE, related_name="outgoing_email"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_address = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["party", "created_at"])]
