"""Research panels and surveys: a stratified panel of consenting customers, its surveys,
the invitations sent and the answers given.

A panel is drawn once (``kith.insights.panels.build_panel``) from the customer base: it
keeps the population margins of its strata at that moment, so every survey run on it
can be weighted back to the customer base by raking, beside the unweighted result.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import KithModel

__all__ = [
    "Panel",
    "PanelMember",
    "Survey",
    "SurveyAnswer",
    "SurveyInvitation",
    "SurveyQuestion",
]


class Panel(KithModel):
    """A stratified sample of customers who consented to research."""

    name = models.CharField(max_length=120)
    # The stratification variables, in order ("participation", "region").
    strata = models.JSONField(default=list)
    target_size = models.PositiveIntegerField()
    seed = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    population_size = models.PositiveIntegerField(default=0)
    frame_size = models.PositiveIntegerField(default=0)  # consenting, reachable customers
    # Variable → {category: customers in the population}: what results are raked to.
    margins = models.JSONField(default=dict, blank=True)
    # One row per stratum: {"stratum": {...}, "population": n, "frame": n, "target": n,
    # "sampled": n}; a shortfall is target > sampled.
    allocation = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PanelMember(models.Model):
    id = models.BigAutoField(primary_key=True)
    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="members")
    party = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    # The member's categories when drawn ({"participation": "lurker", "region": "DE"}).
    strata = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["panel", "party"], name="uniq_research_panel_member")
        ]

    def __str__(self) -> str:
        return f"{self.party_id} in panel {self.panel_id}"


class Survey(KithModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="surveys")
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class SurveyQuestion(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice"
        SCALE = "scale", "Scale"
        TEXT = "text", "Free text"

    id = models.BigAutoField(primary_key=True)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.CharField(max_length=300)
    choices = models.JSONField(default=list, blank=True)
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=5)
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "position"], name="uniq_research_question_position"
            )
        ]

    def __str__(self) -> str:
        return self.text


class SurveyInvitation(KithModel):
    """A panel member asked to answer a survey; only they may answer it."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    party = models.ForeignKey("people.Party", on_delete=models.CASCADE, related_name="+")
    strata = models.JSONField(default=dict)
    invited_at = models.DateTimeField()
    notified = models.BooleanField(default=False)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "party"], name="uniq_research_invitation_party"
            )
        ]

    def __str__(self) -> str:
        return f"{self.party_id} invited to {self.survey_id}"


class SurveyAnswer(models.Model):
    id = models.BigAutoField(primary_key=True)
    invitation = models.ForeignKey(
        SurveyInvitation, on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(SurveyQuestion, on_delete=models.CASCADE, related_name="answers")
    choices = models.JSONField(default=list, blank=True)  # single / multiple
    value = models.SmallIntegerField(null=True, blank=True)  # scale
    text = models.TextField(blank=True)  # free text

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "question"], name="uniq_research_answer_question"
            )
        ]

    def __str__(self) -> str:
        return f"answer to {self.question_id}"
