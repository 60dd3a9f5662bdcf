"""Insights models: influence graph runs and the per-person scores of each run."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import KithModel


class InfluenceRun(KithModel):
    """One computation of the influence graph: its parameters, progress and totals.

    The scores shown everywhere are those of the latest ``done`` run; a run in progress
    or a failed one never replaces them.
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
    half_life_days = models.FloatField(default=180.0)
    resolution = models.FloatField(default=1.0)
    node_count = models.PositiveIntegerField(default=0)
    edge_count = models.PositiveIntegerField(default=0)
    community_count = models.PositiveIntegerField(default=0)
    modularity = models.FloatField(default=0.0)
    # Edges by source ({"mention": 12, "reply": 3, ...}): what the graph is made of.
    edge_sources = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Influence run {self.public_id} ({self.status})"


class InfluenceScore(models.Model):
    """A person's place in the graph of one run."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(InfluenceRun, on_delete=models.CASCADE, related_name="scores")
    party = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="influence_scores"
    )
    pagerank = models.FloatField()
    # PageRank divided by the run's highest: 1.0 is the most influential person, so the
    # number means the same whatever the size of the graph.
    score = models.FloatField()
    # 1 = most influential person of the run.
    rank = models.PositiveIntegerField()
    betweenness = models.FloatField()
    community = models.PositiveIntegerField()
    community_size = models.PositiveIntegerField()
    neighbour_communities = models.PositiveSmallIntegerField(default=1)
    degree = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "party"], name="uniq_influence_run_party")
        ]
        indexes = [
            models.Index(fields=["run", "rank"]),
            models.Index(fields=["run", "community", "rank"]),
            models.Index(fields=["run", "-betweenness"]),
        ]

    def __str__(self) -> str:
        return f"{self.party_id} rank {self.rank} in run {self.run_id}"


from .models_research import *  # noqa: F403, E402
from .models_value import *  # noqa: F403, E402
