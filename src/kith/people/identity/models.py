"""Stored identity resolution: trained models (training runs) and match suggestions.

Registered under the ``people`` app (``kith.people.models`` imports this module), so
their migrations live with people's. The web reads these rows only; the worker writes
them after training or scoring with Splink.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from kith.core.models import KithModel


class IdentityModel(KithModel):
    """One training of the linkage model: its progress, and the trained model (JSON).

    The model in use is the latest ``done`` one; a run in progress or a failed one never
    replaces it. ``fallback`` marks a run that found too little data to train: duplicates
    are then found by the exact rules (same e-mail, phone or handle; close names).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    percent = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=120, blank=True)
    message = models.TextField(blank=True)
    fallback = models.BooleanField(default=False)
    record_count = models.PositiveIntegerField(default=0)
    labelled_matches = models.PositiveIntegerField(default=0)
    labelled_non_matches = models.PositiveIntegerField(default=0)
    suggestion_count = models.PositiveIntegerField(default=0)
    # Splink's settings with trained m and u (save_model_to_json); empty when fallback.
    model = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # features.KEYS_VERSION of the stored blocking keys (IdentityKey) once everyone's
    # were built for this model; blank until then (service.ensure_keys builds them).
    keys_version = models.CharField(max_length=32, blank=True)

    class Meta:
        app_label = "people"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Identity model {self.public_id} ({self.status})"


class MatchSuggestion(KithModel):
    """Two people the model thinks are one, with the per-field weights that say why.

    One row per unordered pair (``left`` has the lower id). A decision is kept for good:
    a rejected pair is a labelled non-match and is never suggested again, whatever a
    later model scores; an accepted one is a labelled match (and the two are merged).
    """

    # A merge does not move these rows to the survivor (kith.people.merging): they are
    # the record of the pair, and the merge marks them accepted instead.
    MERGE_KEEPS_REFERENCES = True

    class Status(models.TextChoices):
        OPEN = "open", "Suggested"
        ACCEPTED = "accepted", "Accepted (merged)"
        REJECTED = "rejected", "Rejected (not the same)"
        AUTO_LINKED = "auto", "Merged automatically"

    left = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="identity_matches_left"
    )
    right = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="identity_matches_right"
    )
    probability = models.FloatField()
    match_weight = models.FloatField()
    # [{field, label, level, weight}], strongest first.
    reasons = models.JSONField(default=list, blank=True)
    # The entity (cluster of pairwise matches) the pair fell in when last scored.
    cluster = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    source = models.CharField(max_length=20, default="model")  # model | rules
    model = models.ForeignKey(
        IdentityModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # Both records as the model saw them when decided: the labels later training reads,
    # even after a merge has emptied the absorbed record.
    left_record = models.JSONField(default=dict, blank=True)
    right_record = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "people"
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="uniq_match_suggestion_pair"),
            models.CheckConstraint(condition=Q(left__lt=F("right")), name="match_pair_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-probability"])]
        ordering = ["-probability", "id"]

    def __str__(self) -> str:
        return f"{self.left_id} ~ {self.right_id} ({self.probability:.3f}, {self.status})"

    def other(self, party_id: int) -> int:
        return self.right_id if party_id == self.left_id else self.left_id


class PendingIdentityScore(models.Model):
    """A new or changed person waiting to be scored against the table (and their
    blocking keys stored afresh): the worker's queue.

    New people are scored on a clock (``people.identity_score_new``, every
    ``KITH_IDENTITY_SCORE_SECONDS``), all waiting people in one batch, rather than on
    each delivery of ``person.created``: a Splink scoring call costs tens of
    milliseconds of CPU whatever its size, so scoring the one or few people of each
    worker pass was the largest part of what a create cost the server.
    """

    party = models.OneToOneField(
        "people.Party", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "people"

    def __str__(self) -> str:
        return f"identity scoring queued for {self.party_id}"


class IdentityKey(models.Model):
    """One blocking key of one person (``features.stored_keys``, a 64-bit hash): the
    index through which the worker finds the people a new or changed person is worth
    scoring against.

    Before it, a batch read every person with the same family name (45 a new person
    at 100,000 people) and built each one's full record, to keep the 0.4 % that agree
    on some blocking rule; the keys find those directly. They are written when a
    person is scored (new, or queued again after a change), rebuilt for everyone by
    each training, and only point the way: the candidates found are read afresh and
    tested again, so a stale or colliding key costs a look, never a wrong pair.
    """

    # A merge leaves these where they are (kith.people.merging): the absorbed person is
    # never a candidate again, and the survivor is keyed afresh on ``person.merged``.
    MERGE_KEEPS_REFERENCES = True

    party = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    key = models.BigIntegerField()

    class Meta:
        app_label = "people"
        indexes = [models.Index(fields=["key", "party"], name="identity_key_lookup")]

    def __str__(self) -> str:
        return f"identity key {self.key} of {self.party_id}"
