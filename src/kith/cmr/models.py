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


# ---------------------------------------------------------------- transparency, correction, erasure


class ReadChannel(models.TextChoices):
    """How a member of staff came to read a person's record."""

    WEB = "web", "Person page"
    API = "api", "API"
    EXPORT = "export", "Export"
    SEARCH = "search", "Search result"


class AccessLogEntry(models.Model):
    """Staff read a person's record (``kith.cmr.transparency``): who, when, how, why.

    Append-only and coalesced: one row per (staff, person, channel) per window of
    ``KITH_CMR_TRANSPARENCY_WINDOW_MINUTES`` (``window`` numbers it), written in one
    ``INSERT … ON CONFLICT DO NOTHING`` after the response. Changes are not here: the
    audit log (``core.AuditEntry``) already holds them and both are shown together.
    """

    id = models.BigAutoField(primary_key=True)
    person = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=ReadChannel.choices)
    purpose = models.CharField(max_length=200, blank=True)
    window = models.BigIntegerField()
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "actor", "channel", "window"], name="cmr_access_once_per_window"
            )
        ]
        indexes = [models.Index(fields=["person", "-occurred_at"], name="cmr_access_person_at")]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.channel} read of party {self.person_id}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    ACCEPTED = "accepted", "Accepted"
    APPLIED = "applied", "Applied directly"
    REJECTED = "rejected", "Rejected"
    REFUSED = "refused", "Refused (legal hold)"
    ERASED = "erased", "Erased"


class CorrectionRequest(KithModel):
    """A customer proposes a new value for one field of their profile or a contact point.

    ``field`` is a profile field name (``given_name``…) or ``contact_point``; then
    ``contact_point`` names which one. Fields the company lets customers edit directly
    (``KITH_CMR_CUSTOMER_EDITABLE_FIELDS``) are applied at once (status ``applied``).
    """

    person = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="correction_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=40)
    contact_point = models.ForeignKey(
        "people.ContactPoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_value = models.TextField(blank=True)
    proposed_value = models.TextField()
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="cmr_correction_status")]

    def __str__(self) -> str:
        return f"correction of {self.field} ({self.status})"


class ErasureRequest(KithModel):
    """A request to erase a person: refused with the legal holds explained, or carried out.

    ``holds`` lists ``{"code", "message"}`` as shown to the customer; after an erasure
    the row keeps only that it happened (no erased value is stored here).
    """

    person = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="erasure_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    holds = models.JSONField(default=list, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)  # rows touched per model

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"erasure request ({self.status})"


# ---------------------------------------------------------------- terms the customer proffers


class AgreementStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted by the company"
    COUNTERED = "countered", "The company proposes other terms"
    SUPERSEDED = "superseded", "Replaced by newer terms"
    DECLINED = "declined", "Counter-offer declined"


class TermsAgreement(KithModel):
    """Terms a customer proffers (IEEE 7012 style) and the company's answer, signed.

    ``proffered`` is what the customer asked for, ``terms`` what is in force once
    accepted (equal to ``proffered`` unless the company counter-offered and the
    customer took the counter-offer). Append-only history: a newer agreement marks the
    one before ``superseded``. ``record`` is the machine-readable agreement, ``jws`` its
    signature with the consent-receipt key (verifiable against ``/.well-known/jwks.json``).
    """

    person = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="terms_agreements"
    )
    proffered = models.JSONField(default=list)
    terms = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=AgreementStatus.choices)
    note = models.TextField(blank=True)  # why the company counter-offered
    source = models.CharField(max_length=10, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    record = models.JSONField(default=dict, blank=True)
    jws = models.TextField(blank=True)
    key_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["person", "status"], name="cmr_terms_person_status")]

    def __str__(self) -> str:
        return f"terms ({self.status})"


# ---------------------------------------------------------------- intentcasting


class IntentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "An offer was accepted"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


class Intent(KithModel):
    """A customer announces what they want to buy (intentcasting); staff answer with
    offers; accepting one creates a deal. Expires at ``expires_at`` (a worker job)."""

    person = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="intents")
    category = models.CharField(max_length=100)
    description = models.TextField()
    budget_min = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    budget_max = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3)
    needed_by = models.DateField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    terms = models.JSONField(default=list, blank=True)  # the terms in force when filed
    share_with_partners = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=IntentStatus.choices, default=IntentStatus.OPEN, db_index=True
    )
    expires_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"intent: {self.category} ({self.status})"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    LAPSED = "lapsed", "Lapsed"


class Offer(KithModel):
    """A staff answer to an intent: what, for how much, until when."""

    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="offers")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a partner (a portal user whose person holds the ``partner`` role) made the
    # offer on an intent shared with partners: the person offering, shown to the customer.
    partner = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    valid_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"offer {self.title} ({self.status})"
