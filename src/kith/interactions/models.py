"""The unified timeline: interactions (touchpoints on any channel) and transactions (money).

Interactions are append-only: a correction is a new interaction, never an edit, so the
timeline is a faithful record of what happened. ``(source, external_id)`` makes
ingestion idempotent: feeding the same message twice stores it once.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    CHAT = "chat", "Chat"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"
    COMMUNITY = "community", "Community"
    PORTAL = "portal", "Portal"
    WEB = "web", "Web"
    SURVEY = "survey", "Survey"
    COLLABORATION = "collaboration", "Collaboration"
    LETTER = "letter", "Letter"
    SYSTEM = "system", "Kith"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"
    INTERNAL = "internal", "Internal"


class CallOutcome(models.TextChoices):
    """How a call (or meeting) went: what a sales or support lead reports on."""

    NONE = "", "—"
    CONNECTED = "connected", "Connected"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    RESCHEDULED = "rescheduled", "Asked to call back"


class InformationRole(models.TextChoices):
    """What a community act did for knowledge: asked for it, or gave it.

    "Membership is not participation": separating seekers from contributors on the
    timeline is what lets staff see who helps and who asks (community Q&A, ideas).
    """

    NONE = "", "—"
    SEEKING = "seeking", "Information-seeking"
    CONTRIBUTING = "contributing", "Information-contributing"


class Interaction(KithModel):
    # No index of its own: both indexes in Meta start with it (one write less a row).
    party = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    kind = models.CharField(max_length=40, default="note")
    occurred_at = models.DateTimeField()
    summary = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=60, blank=True, default="")
    external_id = models.CharField(max_length=255, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    related_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    related_id = models.BigIntegerField(null=True, blank=True)
    information_role = models.CharField(
        max_length=12, choices=InformationRole.choices, default="", blank=True
    )
    # Calls and meetings: how long and how it went (empty for other touchpoints).
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, default="", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="uniq_interaction_source_external_id",
            ),
            models.CheckConstraint(
                condition=Q(sentiment__isnull=True) | Q(sentiment__gte=-1, sentiment__lte=1),
                name="interaction_sentiment_range",
            ),
        ]
        indexes = [
            models.Index(fields=["party", "-occurred_at", "-id"]),
            models.Index(fields=["party", "channel", "-occurred_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.channel}: {self.summary}"


class Transaction(KithModel):
    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"

    # No index of its own: the (party, -occurred_at, -id) index in Meta starts with it.
    party = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="transactions", db_index=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField()
    reference = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=60, blank=True, default="")
    external_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="uniq_transaction_source_external_id",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="transaction_amount_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["party", "-occurred_at", "-id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind} {self.amount} {self.currency}"
