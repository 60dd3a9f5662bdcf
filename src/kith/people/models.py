"""People at the center: parties (people and organisations), contact points, roles over time.

A Party is one real-world person or organisation whatever roles it holds. Roles are
``Relationship`` rows with dates against a ``RoleType`` vocabulary held as data, so
"customers today" or "partners in 2024" are queries, never record types.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kith.core.models import KithModel
from kith.core.prepared import insert_one


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private to owner"
    TEAM = "team", "Team"
    EVERYONE = "everyone", "Everyone"


class Tag(KithModel):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartyQuerySet(models.QuerySet):
    def active(self) -> PartyQuerySet:
        return self.filter(status=Party.Status.ACTIVE)

    def people(self) -> PartyQuerySet:
        return self.filter(kind=Party.Kind.PERSON)

    def organizations(self) -> PartyQuerySet:
        return self.filter(kind=Party.Kind.ORGANIZATION)

    def holding(
        self, role: str, *, of: Party | None = None, on: dt.date | None = None
    ) -> PartyQuerySet:
        """Parties that hold ``role`` (a slug) on the date ``on`` (default today), optionally of ``of``."""
        rels = Relationship.objects.current(on).filter(role__slug=role)
        if of is not None:
            rels = rels.filter(object=of)
        return self.filter(pk__in=rels.values("subject_id"))

    def holding_during(self, role: str, start: dt.date, end: dt.date) -> PartyQuerySet:
        """Parties that held ``role`` at any time between ``start`` and ``end`` inclusive."""
        rels = Relationship.objects.overlapping(start, end).filter(role__slug=role)
        return self.filter(pk__in=rels.values("subject_id"))

    def with_several_roles(self, *, on: dt.date | None = None) -> PartyQuerySet:
        """Parties holding more than one distinct role on ``on`` (default today)."""
        multi = (
            Relationship.objects.current(on)
            .values("subject_id")
            .annotate(n=models.Count("role_id", distinct=True))
            .filter(n__gt=1)
            .values("subject_id")
        )
        return self.filter(pk__in=multi)


class Party(KithModel):
    """A person or an organisation; one row per real-world party."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANIZATION = "organization", "Organisation"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MERGED = "merged", "Merged"
        ERASED = "erased", "Erased"

    kind = models.CharField(max_length=12, choices=Kind.choices, db_index=True)
    display_name = models.CharField(max_length=300)
    # Lower-cased display name: the sort key for lists and keyset pagination.
    sort_name = models.CharField(max_length=300, db_index=True)
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    title = models.CharField(max_length=150, blank=True, help_text="Job title of a person.")
    legal_name = models.CharField(max_length=300, blank=True)
    industry = models.CharField(max_length=120, blank=True)
    locale = models.CharField(max_length=20, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    birthday = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    interests = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="parties")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_parties",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="parties"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.EVERYONE
    )
    # An organisation's setting: its contacts who log in to the customer portal see all
    # of the organisation's cases, not only their own. Off by default (privacy first).
    portal_shares_cases = models.BooleanField(default=False)
    # The search document: lines of index tokens, written only by kith.people.search
    # (empty for parties not in the index). SQLite indexes it in the FTS5 table
    # people_party_fts; PostgreSQL in a generated tsvector column, search_vector, that
    # migration 0003 adds outside this model.
    search_text = models.TextField(blank=True, default="")

    objects = PartyQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["kind", "status", "sort_name", "id"]),
        ]
        verbose_name_plural = "parties"

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_person(self) -> bool:
        return self.kind == self.Kind.PERSON

    def derive_names(self) -> None:
        """Fill the display name of a person from given and family names, and the sort name."""
        if self.kind == self.Kind.PERSON and not self.display_name:
            self.display_name = " ".join(p for p in (self.given_name, self.family_name) if p)
        self.sort_name = self.display_name.casefold()[:300]

    def save(self, *args, **kwargs):
        self.derive_names()
        super().save(*args, **kwargs)

    def insert(self) -> None:
        """Save a new party as :meth:`save` would, with one prepared INSERT.

        Creating a person is the hottest write: ``save`` built the INSERT anew each
        time (see ``kith.core.prepared``). Keep the two in step: whatever ``save``
        adds for a new row belongs here too.
        """
        self.derive_names()
        insert_one(self)


class ContactPoint(KithModel):
    """An e-mail, phone, postal address, website or social handle of a party.

    ``normalized`` is the canonical form (lower-cased e-mail, E.164 phone, handle
    without '@' lower-cased) and is unique per channel, except postal addresses,
    which households share. That uniqueness is what identity resolution stands on.
    """

    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"
    WEBSITE = "website"

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="contact_points")
    # Not indexed alone: every lookup by channel also names the normalized value (the
    # indexes below) or the party, and a create writes three or four contact points.
    channel = models.CharField(max_length=30)
    value = models.CharField(max_length=500)
    normalized = models.CharField(max_length=500)
    label = models.CharField(max_length=40, blank=True)
    verified = models.BooleanField(default=False)
    primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "normalized"],
                condition=~Q(channel="postal"),
                name="uniq_contact_point_per_channel",
            )
        ]
        indexes = [models.Index(fields=["normalized"])]
        ordering = ["channel", "-primary", "id"]

    def __str__(self) -> str:
        return f"{self.channel}: {self.value}"

    def sort_key(self) -> tuple[str, bool, int]:
        """``Meta.ordering`` in Python, for contact points already in memory."""
        return (self.channel, not self.primary, self.pk)


class RoleType(KithModel):
    """The role vocabulary (customer, employee, partner…): data, not code."""

    class AppliesTo(models.TextChoices):
        PERSON = "person", "People"
        ORGANIZATION = "organization", "Organisations"
        ANY = "any", "Anyone"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    # How the role reads from the object's side: "customer" of → "has customer".
    object_label = models.CharField(max_length=80, blank=True)
    applies_to = models.CharField(max_length=12, choices=AppliesTo.choices, default=AppliesTo.ANY)
    description = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RelationshipQuerySet(models.QuerySet):
    def current(self, on: dt.date | None = None) -> RelationshipQuerySet:
        """Relationships in force on ``on`` (default today). Both bounds are inclusive."""
        day = on or timezone.localdate()
        return self.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
        )

    def overlapping(self, start: dt.date, end: dt.date) -> RelationshipQuerySet:
        return self.filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=end),
            Q(valid_to__isnull=True) | Q(valid_to__gte=start),
        )


class Relationship(KithModel):
    """``subject`` holds ``role`` towards ``object`` from ``valid_from`` to ``valid_to``.

    An empty ``object`` means towards us, the company running Kith ("Ana is our customer").
    """

    subject = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="relationships")
    role = models.ForeignKey(RoleType, on_delete=models.PROTECT, related_name="relationships")
    object = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.CASCADE, related_name="inbound_relationships"
    )
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    objects = RelationshipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="relationship_dates_ordered",
            )
        ]
        indexes = [
            models.Index(fields=["subject", "role"]),
            models.Index(fields=["object", "role"]),
            models.Index(fields=["role", "valid_from", "valid_to"]),
        ]
        ordering = ["-valid_from", "id"]

    def __str__(self) -> str:
        target = self.object.display_name if self.object_id else settings.KITH_COMPANY_NAME
        return f"{self.subject} is {self.role.name} of {target}"

    def is_current(self, on: dt.date | None = None) -> bool:
        day = on or timezone.localdate()
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or self.valid_to >= day
        )


class FieldDefinition(KithModel):
    """A custom profile attribute: its key, type and rules; values live in ``Party.attributes``."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes/no"
        CHOICE = "choice", "Choice"
        URL = "url", "URL"
        EMAIL = "email", "E-mail"

    key = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=120)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    applies_to = models.CharField(
        max_length=12, choices=RoleType.AppliesTo.choices, default=RoleType.AppliesTo.PERSON
    )
    # Retired: kept on the records that hold a value, offered on no new one.
    active = models.BooleanField(default=True)
    max_length = models.PositiveIntegerField(default=500)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class SavedView(KithModel):
    """A named set of list filters a user keeps (e.g. "Customers in Berlin")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=120)
    list_name = models.CharField(max_length=40, default="people")
    filters = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_name", "name"], name="uniq_saved_view_name"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MergeRecord(KithModel):
    """What one merge changed, so it can be undone within a window (``KITH_MERGE_UNDO_DAYS``).

    ``snapshot`` holds the survivor's values before the merge, the ids of every row the
    merge moved (foreign keys and generic references), the rows it deleted while folding
    duplicates, and what it re-pointed; :func:`kith.people.merging.undo_merge` reads it.
    """

    # The merge itself must not move these: they name the pair.
    MERGE_KEEPS_REFERENCES = True

    keep = models.ForeignKey("Party", on_delete=models.CASCADE, related_name="+")
    absorb = models.ForeignKey("Party", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["absorb", "-id"]), models.Index(fields=["keep", "-id"])]

    def __str__(self) -> str:
        return f"merge {self.absorb_id} into {self.keep_id}"


class ImportJob(KithModel):
    """One CSV or vCard import: its mapping, progress and the rows it rejected."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Was running, but its process stopped beating (killed, machine lost): it can be
        # resumed after its last committed chunk, or restarted.
        STALE = "stale", "Stalled"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, default="people")  # people | organizations
    file_format = models.CharField(max_length=10, default="csv")  # csv | vcard
    file_name = models.CharField(max_length=255, blank=True)
    content = models.TextField()
    content_hash = models.CharField(max_length=64, db_index=True)
    mapping = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{row, field, message}]
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    # Set when the job is claimed and in each chunk's transaction: a running job whose
    # heartbeat is older than KITH_IMPORT_STALE_SECONDS lost its process.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.file_name or self.public_id} ({self.status})"

    def is_stale(self, now=None) -> bool:
        """Running, but no chunk committed for ``KITH_IMPORT_STALE_SECONDS`` (or marked so)."""
        if self.status == self.Status.STALE:
            return True
        if self.status != self.Status.RUNNING:
            return False
        beat = self.heartbeat_at or self.updated_at
        now = now or timezone.now()
        return (
            beat is not None and (now - beat).total_seconds() > settings.KITH_IMPORT_STALE_SECONDS
        )

    @property
    def percent(self) -> int:
        return (
            int(100 * self.processed_rows / self.total_rows)
            if self.total_rows
            else (100 if self.status == "done" else 0)
        )


# Identity resolution rows (trained models, match suggestions) live in their own module.
from kith.people.identity.models import (  # noqa: E402
    IdentityKey,
    IdentityModel,
    MatchSuggestion,
    PendingIdentityScore,
)

__all__ = ["IdentityKey", "IdentityModel", "MatchSuggestion", "PendingIdentityScore"]
