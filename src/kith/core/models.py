"""Shared kernel models: the base model, the audit log, the event outbox and idempotency keys."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class KithModel(models.Model):
    """Base for every domain row: bigint pk inside, a stable UUID outside, timestamps."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditEntry(models.Model):
    """Who changed what, when, from which channel.

    ``party_id`` names the person or organisation the change is *about*, so a customer
    can be shown every entry concerning them (transparency), whatever the object was.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=20, default="system")
    action = models.CharField(max_length=80)
    # No index of its own: the (object_type, object_id, -occurred_at) index below starts
    # with it, and every write pays for each index (an audit row comes with every change).
    object_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    object_id = models.BigIntegerField()
    object_public_id = models.UUIDField(null=True, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    party_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id", "-occurred_at"])]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_label}"


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes.

    The worker delivers it to every subscriber at least once; ``EventDelivery`` rows
    record which subscribers already have it so a re-delivery after a crash skips them.

    ``lane`` orders delivery: the worker takes ``interactive`` events (a mention, a
    notification, a stage change) before ``bulk`` ones (imports, demo data), so a bulk
    backlog never holds up what a person is waiting for. A *batch* row
    (``batch_size`` > 0) stands for ``batch_size`` events of the same name, one per item
    of ``data["items"]`` (see ``kith.core.events.emit_batch``).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    class Lane(models.TextChoices):
        INTERACTIVE = "interactive"
        BULK = "bulk"

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=80, db_index=True)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=80)
    object_id = models.BigIntegerField()
    object_public_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    lane = models.CharField(max_length=12, choices=Lane.choices, default=Lane.INTERACTIVE)
    batch_size = models.PositiveIntegerField(default=0)  # 0: a single event

    class Meta:
        indexes = [
            models.Index(fields=["status", "available_at", "id"]),
            # The claim: pending events of one lane, oldest first.
            models.Index(fields=["status", "lane", "id"], name="core_outbox_lane_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.id} ({self.status})"


class EventDelivery(models.Model):
    """One subscriber has handled one event; unique so a handler runs once per event."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (event, subscriber) starts with it, and a row is
    # written for every event each subscriber takes.
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.CharField(max_length=120)
    delivered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="uniq_event_subscriber")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} got event #{self.event_id}"


class IdempotencyRecord(models.Model):
    """The stored response of a creating POST, replayed when the same key comes again."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "endpoint"], name="uniq_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} [{self.key}]"


class TrashItem(models.Model):
    """A deleted record kept for a while so it can be restored (see ``kith.core.trash``).

    ``snapshot`` holds the record and every row its delete took with it (cascades), in
    the order they go back, plus the references the delete cleared (``SET_NULL``).
    """

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, db_index=True)  # "person", "deal", …
    label = models.CharField(max_length=300)
    object_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    object_public_id = models.UUIDField(null=True, blank=True)
    party_id = models.BigIntegerField(null=True, blank=True)  # whom it was about (audit)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_by_label = models.CharField(max_length=200, blank=True)
    deleted_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    row_count = models.PositiveIntegerField(default=0)
    snapshot = models.JSONField(default=dict)

    class Meta:
        ordering = ["-deleted_at", "-id"]
        indexes = [models.Index(fields=["kind", "-deleted_at"], name="core_trash_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} (deleted {self.deleted_at:%Y-%m-%d %H:%M})"
