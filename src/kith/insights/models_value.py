"""Customer value models: CLV runs and per-person values, and referrals (who brought whom).

* ``ValueRun`` — one fit of BG/NBD + Gamma-Gamma on the transactions, with its parameters,
  progress, fitted parameters and the calibration/holdout validation it was checked on.
* ``PersonValue`` — a person's figures in one run: P(alive), expected purchases, CLV,
  CRV and the CLV × CRV segment.
* ``Referral`` — "referred by": one referrer per referred person, optionally through a
  deal or a referral code, with whether the person would have come anyway.
* ``ReferralCode`` — a customer's personal code (and link ``/portal/r/<code>/``), with
  how often the link was opened; ``PendingReferral`` — a sign-up that came with a code,
  waiting for its e-mail to be verified (the address kept only as a hash).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kith.core.models import KithModel

__all__ = ["PendingReferral", "PersonValue", "Referral", "ReferralCode", "ValueRun"]


class ValueRun(KithModel):
    """One computation of customer value. The figures shown are the latest ``done`` run's."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL otherwise: the unique constraint below lets only
    # one run be in flight, whatever races between two requests.
    in_flight = models.BooleanField(null=True, default=True)
    percent = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=120, blank=True)
    # Parameters.
    discount_rate = models.FloatField(default=0.10)  # yearly
    horizon_months = models.PositiveSmallIntegerField(default=12)
    margin = models.FloatField(default=0.3)  # share of revenue that is profit
    holdout_days = models.PositiveIntegerField(default=90)
    # Share of referred customers who would have come anyway, where a referral says nothing.
    anyway_share = models.FloatField(default=0.3)
    acquisition_cost = models.FloatField(default=0.0)  # saved per referred customer
    currency = models.CharField(max_length=3, blank=True)
    # Results.
    params = models.JSONField(default=dict, blank=True)  # r, alpha, a, b; p, q, v
    validation = models.JSONField(default=dict, blank=True)
    thresholds = models.JSONField(default=dict, blank=True)  # clv / crv medians
    customer_count = models.PositiveIntegerField(default=0)
    scored_count = models.PositiveIntegerField(default=0)
    excluded_count = models.PositiveIntegerField(default=0)  # no consent for profiling
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["in_flight"], name="uniq_value_run_in_flight"),
            models.CheckConstraint(
                condition=Q(discount_rate__gte=0) & Q(discount_rate__lte=1),
                name="value_run_discount_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Value run {self.public_id} ({self.status})"


class PersonValue(models.Model):
    """A person's customer value in one run (CLV and CRV in the run's currency)."""

    class Segment(models.TextChoices):
        CHAMPION = "champion", "Champions"  # high CLV, high CRV
        AFFLUENT = "affluent", "Affluents"  # high CLV, low CRV
        ADVOCATE = "advocate", "Advocates"  # low CLV, high CRV
        MISER = "miser", "Misers"  # low CLV, low CRV

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(ValueRun, on_delete=models.CASCADE, related_name="customer_values")
    party = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="customer_values"
    )
    # Repeat purchases (days with a purchase after the first), weeks from first to last
    # purchase, weeks from first purchase to the run: the RFM the models read.
    frequency = models.PositiveIntegerField(default=0)
    recency_weeks = models.FloatField(default=0.0)
    age_weeks = models.FloatField(default=0.0)
    average_spend = models.FloatField(default=0.0)
    total_spend = models.FloatField(default=0.0)
    purchases = models.PositiveIntegerField(default=0)  # 0: not a buyer (a referrer only)
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases = models.FloatField(null=True, blank=True)
    clv = models.FloatField(default=0.0)
    crv = models.FloatField(default=0.0)
    referred_count = models.PositiveIntegerField(default=0)
    segment = models.CharField(max_length=10, choices=Segment.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "party"], name="uniq_value_run_party")
        ]
        indexes = [
            models.Index(fields=["run", "segment", "-clv"]),
            models.Index(fields=["run", "-clv"]),
            models.Index(fields=["run", "-crv"]),
        ]

    def __str__(self) -> str:
        return f"{self.party_id}: CLV {self.clv:.2f}, CRV {self.crv:.2f} (run {self.run_id})"


class Referral(KithModel):
    """``referrer`` brought ``referred`` (one referrer per person: the first one recorded)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Recorded by staff"
        CODE = "code", "Referral code or link"
        DEAL = "deal", "On a deal"

    referrer = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="referrals_made"
    )
    referred = models.OneToOneField(
        "people.Party", on_delete=models.CASCADE, related_name="referred_by"
    )
    deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    code = models.CharField(max_length=40, blank=True)
    occurred_on = models.DateField()
    # Would the referred customer have come without the referral? Unknown (NULL) counts
    # as the run's ``anyway_share``.
    would_have_come = models.BooleanField(null=True, blank=True)
    incentive = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=F("referred")), name="referral_not_self"),
            models.CheckConstraint(condition=Q(incentive__gte=0), name="referral_incentive_ge_0"),
        ]
        indexes = [models.Index(fields=["referrer", "-occurred_on"])]

    def __str__(self) -> str:
        return f"{self.referrer_id} referred {self.referred_id}"


class ReferralCode(KithModel):
    """A person's personal referral code: one per person, valid until revoked or expired."""

    party = models.OneToOneField(
        "people.Party", on_delete=models.CASCADE, related_name="referral_code"
    )
    # Short, random, unambiguous letters and digits (see ``kith.insights.referrals``).
    code = models.CharField(max_length=16, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    visits = models.PositiveIntegerField(default=0)
    last_visit_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_live(self) -> bool:
        """Neither revoked nor past its expiry: links and sign-ups with it work."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def __str__(self) -> str:
        return f"Referral code of {self.party_id}"


class PendingReferral(models.Model):
    """A portal sign-up made with a referral code, claimed when the address is verified.

    The address is stored as a SHA-256 hash only: the pending row is a pointer, not
    personal data, and it is deleted when claimed or after a week.
    """

    id = models.BigAutoField(primary_key=True)
    code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="pending")
    email_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Pending referral through {self.code_id}"
