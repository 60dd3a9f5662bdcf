"""Service desk schema: calendars, SLA policies, queues, cases, their conversation,
attachments, SLA breaches, inbound mail log and CSAT responses."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel
from kith.service.businesstime import Schedule


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING_CUSTOMER = "pending_customer", "Pending customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# A far-future due time that sorts last: "no running deadline".
NO_DUE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)

# Statuses in which a case still needs work (the queue view's default filter).
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER)
# Statuses whose SLA clocks run (pending_customer pauses them).
RUNNING_STATUSES = (Status.NEW, Status.OPEN)


class Origin(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    WEB = "web", "Web form"
    PORTAL = "portal", "Portal"
    CHAT = "chat", "Chat"
    SOCIAL = "social", "Social"
    OTHER = "other", "Other"


class BusinessCalendar(KithModel):
    """Working hours per weekday in a time zone, plus holidays (``Holiday`` rows).

    ``weekly_hours`` maps a weekday (``"0"`` = Monday) to a list of ``["HH:MM",
    "HH:MM"]`` spans; an end at or before the start runs past midnight.
    """

    name = models.CharField(max_length=120, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    weekly_hours = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name

    def schedule(self) -> Schedule:
        return Schedule.build(
            timezone=self.timezone,
            weekly_hours=self.weekly_hours,
            holidays=self.holidays.values_list("date", flat=True),
        )


class Holiday(KithModel):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="uniq_service_holiday")
        ]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaPolicy(KithModel):
    """Targets for one priority, optionally only for one organisation's cases.

    The most specific policy wins: (priority, organisation) before (priority, any).
    Targets are business minutes on ``calendar`` (no calendar: around the clock).
    """

    name = models.CharField(max_length=120)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    organization = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    calendar = models.ForeignKey(
        BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "organization"],
                condition=Q(active=True, organization__isnull=False),
                name="uniq_sla_policy_priority_org",
            ),
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(active=True, organization__isnull=True),
                name="uniq_sla_policy_priority_default",
            ),
        ]
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class Queue(KithModel):
    class Rule(models.TextChoices):
        NONE = "none", "Manual"
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_LOADED = "least_loaded", "Least loaded"

    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    email_address = models.CharField(
        max_length=254, blank=True, help_text="Inbound mail to this address lands in this queue."
    )
    is_default = models.BooleanField(
        default=False, help_text="Inbound mail to an unknown address lands here."
    )
    assignment_rule = models.CharField(max_length=20, choices=Rule.choices, default=Rule.NONE)
    agents = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="queues")
    # Round robin's pointer: the agent who got the last case.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Counter(models.Model):
    """Named sequences (case numbers) incremented under a row lock."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class CaseTag(KithModel):
    name = models.CharField(max_length=60, unique=True)

    def __str__(self) -> str:
        return self.name


class Case(KithModel):
    """A customer's request, with its SLA clocks.

    The SLA due times are stored (so the queue view can sort and filter on them with
    an index) and shifted forward when the case leaves ``pending_customer`` by the
    business time it spent there.
    """

    TOKEN_PREFIX = "CASE-"

    number = models.BigIntegerField(unique=True)
    subject = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    # Deleting a person deletes what hangs off them (as their interactions), cases too.
    requester = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="service_cases"
    )
    organization = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.WEB)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    tags = models.ManyToManyField(CaseTag, blank=True, related_name="cases")
    # Optional link to the sales deal the request is about (kith.sales).
    deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    # SLA
    sla_policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # The sort key of the queue view: the next deadline still running (first response
    # until answered, then resolution); NO_DUE once resolved or without a policy, so
    # the column is never null and keyset pagination can order by it.
    next_due_at = models.DateTimeField(default=NO_DUE)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    first_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    breached = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The queue view: one queue's cases by next due time. Cases with no running
            # deadline (resolved, closed) carry NO_DUE and sort last, so walking this
            # index in order meets the open cases first and the status filter stops
            # early, with no sort of the whole queue.
            models.Index(fields=["queue", "next_due_at", "id"], name="svc_case_queue_due"),
            models.Index(fields=["assignee", "next_due_at", "id"], name="svc_case_assignee_due"),
            models.Index(fields=["next_due_at", "id"], name="svc_case_due"),
            models.Index(fields=["breached", "queue", "next_due_at"], name="svc_case_breached"),
            models.Index(fields=["requester", "-created_at"], name="svc_case_requester"),
        ]

    def __str__(self) -> str:
        return f"{self.token} {self.subject}"

    @property
    def token(self) -> str:
        return f"[#{self.TOKEN_PREFIX}{self.number}]"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseMessageQuerySet(models.QuerySet):
    def public(self) -> CaseMessageQuerySet:
        """Messages a customer may see: never internal notes."""
        return self.filter(kind__in=("inbound", "reply"))


class CaseMessage(KithModel):
    """One entry of a case's conversation.

    ``inbound`` (from the customer) and ``reply`` (to the customer) are public;
    ``note`` is internal and must never reach a customer: every portal-facing read
    goes through ``CaseMessage.objects.public()``.
    """

    class Kind(models.TextChoices):
        INBOUND = "inbound", "Customer message"
        REPLY = "reply", "Public reply"
        NOTE = "note", "Internal note"

    PUBLIC_KINDS = (Kind.INBOUND, Kind.REPLY)

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_email = models.CharField(max_length=254, blank=True)
    to_email = models.CharField(max_length=1000, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    # Raw HTML as received; sanitised with nh3 whenever it is displayed.
    body_html = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=500, blank=True)
    interaction = models.ForeignKey(
        "interactions.Interaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["case", "occurred_at", "id"], name="svc_msg_case")]

    objects = CaseMessageQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case_id}"

    @property
    def is_public(self) -> bool:
        return self.kind in self.PUBLIC_KINDS


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"service/attachments/{dt.date.today():%Y/%m}/{instance.public_id}/{filename}"


class Attachment(KithModel):
    """A file sent with a case message (by the customer or an agent)."""

    message = models.ForeignKey(CaseMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120, default="application/octet-stream")
    size = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=attachment_path, max_length=500)

    class Meta:
        ordering = ["id"]  # in upload order wherever a message's files are listed

    def __str__(self) -> str:
        return self.filename


class SlaBreach(KithModel):
    """A target that was missed: the SLA history of a case and the breach report's rows."""

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response", "First response"
        RESOLUTION = "resolution", "Resolution"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="breaches")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    breached_at = models.DateTimeField()
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="uniq_service_breach_kind")
        ]
        ordering = ["-breached_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} breached {self.breached_at:%Y-%m-%d %H:%M}"


class StatusChange(KithModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class InboundMail(KithModel):
    """What became of each inbound message (case created, threaded, ignored and why)."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created a case"
        THREADED = "threaded", "Added to a case"
        DUPLICATE = "duplicate", "Already received"
        AUTO_REPLY = "auto_reply", "Ignored: auto-reply"
        BOUNCE = "bounce", "Ignored: bounce"
        REJECTED = "rejected", "Rejected"

    source = models.CharField(max_length=20)
    message_id = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.outcome}: {self.subject}"


class CsatResponse(KithModel):
    """The requester's rating of a resolved case; the agent and queue are kept as they
    were at resolution so results per agent/queue do not move when a case is reassigned."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="csat")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="service_csat_rating_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.case_id}"


class Deflection(KithModel):
    """One time a customer starting a case was shown community answers first.

    ``viewed_at`` is set when they open a suggested answer, ``case`` when they still
    submit the case, ``confirmed_at`` when they say an answer solved it. A deflection
    is a shown suggestion that was viewed and not followed by a case (derived, never
    stored, so a late submission simply stops it counting).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    party = models.ForeignKey(
        "people.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=300)
    # Public ids of the suggested topics, in the order shown.
    suggested = models.JSONField(default=list, blank=True)
    viewed_topic = models.CharField(max_length=64, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="deflections"
    )

    def __str__(self) -> str:
        return self.subject

    @property
    def deflected(self) -> bool:
        return self.case_id is None and (
            self.viewed_at is not None or self.confirmed_at is not None
        )
