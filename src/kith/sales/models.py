"""Sales: products, pipelines with ordered stages, deals, their lines, people and history.

Money is ``Decimal`` with an ISO currency code everywhere. A deal's amount is either
typed in or, once it has line items, the sum of its lines (quantity × unit price −
discount), kept in ``Deal.amount`` by the services so lists and the forecast read one
column. ``forecast_date`` and ``forecast_month`` are derived too (the actual close day
of a closed deal, else its expected close date) so the forecast groups by a plain,
indexed integer instead of a date function SQLite would run in Python row by row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from kith.core.models import KithModel
from kith.people.models import Visibility

MONEY = {"max_digits": 14, "decimal_places": 2}


def base_currency() -> str:
    """The currency forecasts are reported in (``KITH_BASE_CURRENCY``, default EUR)."""
    return str(getattr(settings, "KITH_BASE_CURRENCY", "EUR") or "EUR").upper()


def month_key(day: dt.date | None) -> int | None:
    """``2026-03-14`` → ``202603``: the integer the forecast groups by."""
    return day.year * 100 + day.month if day else None


class Product(KithModel):
    """One line of the price list."""

    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    unit_price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="product_price_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Pipeline(KithModel):
    """A sales process; several may exist (new business, renewals…), one is the default."""

    name = models.CharField(max_length=120, unique=True)
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Stage(KithModel):
    """A step of a pipeline with its default win probability; won/lost stages close a deal."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=80)
    order = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(default=0)
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_stage_name"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="stage_probability_range",
            ),
            models.CheckConstraint(
                condition=~Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


class Deal(KithModel):
    """An opportunity with an organisation and/or a person, owned by a user."""

    title = models.CharField(max_length=200)
    # Named reverse relations (not "+"): a people merge finds and moves every visible
    # foreign key to Party, and hidden ones would be left pointing at the absorbed record.
    organization = models.ForeignKey(
        "people.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals_as_organization",
    )
    person = models.ForeignKey(
        "people.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals_as_person",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.EVERYONE
    )
    amount = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    probability = models.PositiveSmallIntegerField(default=0)
    forecast_category = models.CharField(
        max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    expected_close_date = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    next_step = models.CharField(max_length=300, blank=True)
    lost_reason = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    stage_entered_at = models.DateTimeField()
    # Derived (see module docstring): written by ``refresh_derived``.
    forecast_date = models.DateField(null=True, blank=True)
    forecast_month = models.PositiveIntegerField(null=True, blank=True)
    is_won = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="deal_probability_range",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["pipeline", "stage", "id"]),
            models.Index(fields=["owner", "forecast_month"]),
            models.Index(fields=["forecast_month", "forecast_category"]),
            models.Index(fields=["expected_close_date", "id"]),
            models.Index(fields=["organization"]),
            models.Index(fields=["person"]),
        ]

    def __str__(self) -> str:
        return self.title

    def refresh_derived(self) -> None:
        """Recompute the columns derived from the stage and the dates."""
        self.forecast_date = self.closed_on or self.expected_close_date
        self.forecast_month = month_key(self.forecast_date)
        stage = self.stage
        self.is_won = bool(stage.is_won)
        if stage.is_won or stage.is_lost:
            self.forecast_category = ForecastCategory.CLOSED

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / Decimal(100)).quantize(Decimal("0.01"))


class DealLine(KithModel):
    """A line item: ``quantity × unit_price − discount`` in the deal's currency."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    description = models.CharField(max_length=300, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY, default=Decimal("0"))
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["deal_id", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="deal_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0), name="deal_line_money_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.description or (self.product.name if self.product_id else "Line")

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_price - self.discount).quantize(Decimal("0.01"))


class DealContact(KithModel):
    """A person involved in a deal and their role on it (decision maker, champion…)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey(
        "people.Party", on_delete=models.CASCADE, related_name="deal_contacts"
    )
    role = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["deal_id", "id"]
        # One row per (deal, person) is kept by the services rather than by a unique
        # constraint: merging two people moves every foreign key at once, and two
        # contacts of one deal becoming the same person must not make the merge fail
        # (the ``party_merged`` receiver folds them together afterwards).
        indexes = [models.Index(fields=["deal", "person"])]

    def __str__(self) -> str:
        return f"{self.person} ({self.role or 'contact'}) on {self.deal}"


class StageChange(KithModel):
    """One move of a deal: from → to, who, when, and how long it sat in ``from_stage``.

    The creation of a deal is a change with no ``from_stage``, so "entered stage X"
    counts are one query over this table.
    """

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()
    seconds_in_from_stage = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["deal_id", "changed_at", "id"]
        indexes = [
            models.Index(fields=["deal", "changed_at", "id"]),
            models.Index(fields=["to_stage", "changed_at"]),
            models.Index(fields=["from_stage", "changed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.deal}: {self.from_stage or '∅'} → {self.to_stage}"


class ExchangeRate(KithModel):
    """``1 currency = rate × base currency`` from ``valid_from`` until the next rate."""

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=20, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="uniq_rate_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {base_currency()} from {self.valid_from}"


class ForecastCell(models.Model):
    """A running total of forecastable deals sharing every dimension the forecast reads.

    The forecast reads these few thousand rows instead of aggregating every deal: the
    services add a deal's contribution to its cell and take it from the old one in the
    same transaction as each change (``kith.sales.services``), and
    ``rebuild_forecast_cells`` recomputes the table from the deals after bulk loads.
    Lost and omitted deals, and deals without a date, are not forecast and have no cell.
    ``owner_key`` and ``team_key`` are ids with 0 for "none" (not foreign keys, so the
    unique key holds without NULLs).
    """

    id = models.BigAutoField(primary_key=True)
    pipeline_id = models.BigIntegerField()
    owner_key = models.BigIntegerField(default=0)
    team_key = models.BigIntegerField(default=0)
    visibility = models.CharField(max_length=10)
    currency = models.CharField(max_length=3)
    forecast_category = models.CharField(max_length=10)
    is_won = models.BooleanField(default=False)
    forecast_month = models.PositiveIntegerField()
    deals = models.IntegerField(default=0)
    # Integer cents: exact sums on SQLite too (its NUMERIC sums are floating point) and
    # cheaper to add up than decimals.
    amount_cents = models.BigIntegerField(default=0)
    weighted_cents = models.BigIntegerField(default=0)  # Σ cents × probability (percent)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "forecast_month",
                    "pipeline_id",
                    "owner_key",
                    "team_key",
                    "visibility",
                    "currency",
                    "forecast_category",
                    "is_won",
                ],
                name="uniq_forecast_cell",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.forecast_month} {self.currency} {self.forecast_category}: "
            f"{Decimal(self.amount_cents) / 100}"
        )
