"""Customer-managed relationship records: purposes, consent per purpose and channel,
signed consent receipts, contact preferences and the log of messages sent.

Purposes are data (rows seeded by a migration, editable by admins), so a new purpose
needs no code. ``Consent`` holds the current answer per (person, purpose, channel);
``ConsentReceipt`` is the append-only history, one signed Kantara receipt per change.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import KithModel


class Channel(models.TextChoices):
    """Ways of reaching a person. ``any`` on a consent covers every channel."""

    ANY = "any", "Any channel"
    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message"
    PHONE = "phone", "Phone"
    POST = "post", "Post"


class Source(models.TextChoices):
    """Where a consent change came from (Kantara ``collectionMethod``)."""

    PORTAL = "portal", "Customer portal"
    STAFF = "staff", "Staff (on the phone or in person)"
    IMPORT = "import", "Import"
    API = "api", "API"


class Purpose(KithModel):
    """One purpose of processing a customer may consent to (Kantara ``purposes[]``)."""

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    # The exact text shown when asking; each receipt keeps the text of its own time.
    text = models.TextField()
    category = models.CharField(max_length=120)  # Kantara purposeCategory
    consent_type = models.CharField(max_length=20, default="EXPLICIT")
    pii_categories = models.JSONField(default=list, blank=True)
    primary_purpose = models.BooleanField(default=False)
    third_party_disclosure = models.BooleanField(default=False)
    third_party_name = models.CharField(max_length=200, blank=True)
    sensitive = models.BooleanField(default=False)
    termination = models.CharField(max_length=300, blank=True)
    # Without any answer from the person: service messages follow from the contract
    # (granted), everything else is opt-in (withheld).
    default_granted = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.name


class Consent(KithModel):
    """The current answer of a person for one purpose on one channel."""

    person = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="consents")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.ANY)
    granted = models.BooleanField()
    changed_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "purpose", "channel"], name="cmr_consent_one_per_channel"
            )
        ]


class ConsentReceipt(KithModel):
    """One consent change, as granted or withdrawn, with its signed Kantara receipt.

    Append-only: the consent history a customer and staff see.
    """

    person = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="consent_receipts"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="receipts")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=10, choices=Source.choices)
    text_shown = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField(db_index=True)
    receipt = models.JSONField()  # the Kantara v1.1 structure, as signed
    jws = models.TextField()  # compact JWS over ``receipt``
    key_id = models.CharField(max_length=100)

    class Meta:
        ordering = ["-occurred_at", "-id"]


class Preference(KithModel):
    """How a person wants to be contacted: channels, a frequency cap, topics, quiet hours.

    Quiet hours are wall-clock times in the person's time zone (``timezone`` here, else
    the person's own); a window may cross midnight (22:00–07:00).
    """

    person = models.OneToOneField(
        "people.Party", on_delete=models.CASCADE, related_name="contact_preference"
    )
    channels = models.JSONField(default=list, blank=True)  # allowed; empty list: none
    max_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    max_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    muted_topics = models.JSONField(default=list, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)


class SentMessage(models.Model):
    """One message a sender delivered to a person (the ground of frequency caps).

    Append-only and small; holds no content, only what the caps count.
    """

    id = models.BigAutoField(primary_key=True)
    person = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=60)
    channel = models.CharField(max_length=10)
    topic = models.CharField(max_length=60, blank=True)
    sender = models.CharField(max_length=60)
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["person", "sent_at"], name="cmr_sent_person_at")]

    def __str__(self) -> str:
        return f"{self.sender} {self.purpose} {self.sent_at:%Y-%m-%d %H:%M}"
