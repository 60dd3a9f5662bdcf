"""Read models for sales: deal filters, board columns, forecast, conversion and stage times.

The forecast is one grouped query over the deals the reader may see, by
``(group, currency, category, won, forecast_month)``; the per-period and per-group
figures, the conversion into the base currency and the totals are then folded in
Python over a few hundred rows at most, whatever the number of deals.

Figures per period (each deal counted by ``forecast_date``: the day it closed, else
its expected close date; deals without a date are not forecast):

* ``closed_won`` — deals in a won stage;
* ``commit`` / ``best_case`` / ``pipeline`` — open deals in that forecast category
  (not cumulative: best case does not include commit);
* ``weighted_pipeline`` — Σ amount × probability of every open deal not omitted;
* lost and omitted deals count nowhere.

Currency is explicit: amounts are converted into the base currency with the stored
rate in force on ``as_of`` (default today). A currency without a rate raises
``MissingExchangeRate`` naming it — never a silent sum of euros and dollars. Asking for
``currency=USD`` instead reports only the deals in dollars, unconverted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from kith.core.errors import FieldError, KithError, ValidationFailed
from kith.interactions.access import take_visible
from kith.interactions.models import Interaction
from kith.people import access as people_access
from kith.sales import access
from kith.sales.models import (
    Deal,
    ExchangeRate,
    ForecastCategory,
    Pipeline,
    Stage,
    StageChange,
    base_currency,
    month_key,
)

CENT = Decimal("0.01")
FIGURES = ("closed_won", "commit", "best_case", "pipeline", "weighted_pipeline")
MAX_PERIODS = 60


class MissingExchangeRate(KithError):
    """Amounts in a currency without a stored rate cannot be added to the others."""

    code = "missing_exchange_rate"
    status = 422
    default_message = "An exchange rate is missing."

    def __init__(self, currencies: list[str], base: str, as_of: dt.date):
        self.currencies = currencies
        names = ", ".join(currencies)
        super().__init__(
            f"No exchange rate from {names} to {base} on or before {as_of.isoformat()}: "
            f"add one, or ask for the forecast in a single currency (currency={currencies[0]}).",
            errors=[
                FieldError("currency", f"No rate from {code} to {base} on or before {as_of}.")
                for code in currencies
            ],
        )


# ---------------------------------------------------------------- deal lists


@dataclass
class DealFilters:
    stage: str = ""
    pipeline: str = ""
    owner: str = ""
    organization: str = ""
    person: str = ""
    party: str = ""
    forecast_category: str = ""
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    status: str = ""  # open | won | lost
    q: str = ""

    @classmethod
    def from_mapping(cls, params) -> DealFilters:
        errors: list[FieldError] = []
        dates = {}
        for key in ("close_from", "close_to"):
            raw = (params.get(key) or "").strip()
            dates[key] = None
            if raw:
                try:
                    dates[key] = dt.date.fromisoformat(raw)
                except ValueError:
                    errors.append(FieldError(key, "Must be a date as YYYY-MM-DD."))
        if errors:
            raise ValidationFailed(errors=errors)
        return cls(
            **{
                k: (params.get(k) or "").strip()
                for k in (
                    "stage",
                    "pipeline",
                    "owner",
                    "organization",
                    "person",
                    "party",
                    "forecast_category",
                    "status",
                    "q",
                )
            },
            **dates,
        )

    def applied(self) -> dict[str, str]:
        return {
            k: (v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in self.__dict__.items()
            if v
        }


def _uuid_filter(value: str, field: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValidationFailed.single(field, "Not a valid id.") from exc


def apply_filters(qs: QuerySet, filters: DealFilters) -> QuerySet:
    """Narrow ``qs`` (already scoped to the reader) by ``filters``; bad values → 422."""
    if filters.stage:
        qs = qs.filter(stage__public_id=_uuid_filter(filters.stage, "stage"))
    if filters.pipeline:
        qs = qs.filter(pipeline__public_id=_uuid_filter(filters.pipeline, "pipeline"))
    if filters.owner:
        if filters.owner == "none":
            qs = qs.filter(owner__isnull=True)
        else:
            qs = qs.filter(owner__username=filters.owner)
    if filters.organization:
        qs = qs.filter(organization__public_id=_uuid_filter(filters.organization, "organization"))
    if filters.person:
        pid = _uuid_filter(filters.person, "person")
        qs = qs.filter(Q(person__public_id=pid) | Q(contacts__person__public_id=pid)).distinct()
    if filters.party:
        pid = _uuid_filter(filters.party, "party")
        qs = qs.filter(
            Q(person__public_id=pid)
            | Q(organization__public_id=pid)
            | Q(contacts__person__public_id=pid)
        ).distinct()
    if filters.forecast_category:
        if filters.forecast_category not in ForecastCategory.values:
            raise ValidationFailed.single(
                "forecast_category", f"Must be one of: {', '.join(ForecastCategory.values)}."
            )
        qs = qs.filter(forecast_category=filters.forecast_category)
    if filters.status:
        if filters.status == "open":
            qs = qs.filter(stage__is_won=False, stage__is_lost=False)
        elif filters.status == "won":
            qs = qs.filter(stage__is_won=True)
        elif filters.status == "lost":
            qs = qs.filter(stage__is_lost=True)
        else:
            raise ValidationFailed.single("status", "Must be open, won or lost.")
    if filters.close_from:
        qs = qs.filter(expected_close_date__gte=filters.close_from)
    if filters.close_to:
        qs = qs.filter(expected_close_date__lte=filters.close_to)
    if filters.q:
        qs = qs.filter(title__icontains=filters.q)
    return qs


def with_list_data(qs: QuerySet) -> QuerySet:
    return qs.select_related("stage", "pipeline", "owner", "organization", "person", "team")


# ---------------------------------------------------------------- board


@dataclass
class Column:
    stage: Stage
    deals: list[Deal]
    count: int
    totals: dict[str, Decimal]  # currency → amount
    weighted: dict[str, Decimal]
    # The column's total in the base currency; None when a currency has no rate on file.
    base_total: Decimal | None = None
    # Won and lost columns show totals only until asked ("show"): on a living pipeline
    # they hold most deals ever made, and drawing them made the board slow.
    collapsed: bool = False
    # True when the totals hold a currency other than the base: then the base total is shown.
    foreign_currency: bool = False

    @property
    def is_closed(self) -> bool:
        return self.stage.is_won or self.stage.is_lost


BOARD_CARDS_PER_COLUMN = 50


def board(
    user,
    pipeline: Pipeline,
    *,
    filters: DealFilters | None = None,
    show_closed: bool = False,
    as_of: dt.date | None = None,
) -> list[Column]:
    """One column per stage: the first cards, how many deals, totals per currency.

    Closed (won and lost) columns carry their count and totals but no cards unless
    ``show_closed``; every column's total is also given in the base currency, at the
    rates on file for ``as_of`` (today by default).
    """
    qs = access.scope_deals(user).filter(pipeline=pipeline)
    if filters is not None:
        qs = apply_filters(qs, filters)
    weighted = ExpressionWrapper(
        F("amount") * F("probability"), output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    sums = qs.values("stage_id", "currency").annotate(
        n=Count("id"), total=Sum("amount"), weighted=Sum(weighted)
    )
    per_stage: dict[int, dict[str, Any]] = {}
    for row in sums:
        slot = per_stage.setdefault(row["stage_id"], {"n": 0, "totals": {}, "weighted": {}})
        slot["n"] += row["n"]
        slot["totals"][row["currency"]] = _dec(row["total"])
        slot["weighted"][row["currency"]] = (_dec(row["weighted"]) / 100).quantize(CENT)
    currencies = {cur for slot in per_stage.values() for cur in slot["totals"]}
    rates, _missing = rates_on(currencies, as_of or dt.date.today())
    columns = []
    for stage in pipeline.stages.order_by("order", "id"):
        slot = per_stage.get(stage.pk, {"n": 0, "totals": {}, "weighted": {}})
        collapsed = (stage.is_won or stage.is_lost) and not show_closed
        deals = (
            list(
                with_list_data(qs.filter(stage=stage)).order_by(
                    "expected_close_date", "-amount", "id"
                )[:BOARD_CARDS_PER_COLUMN]
            )
            if slot["n"] and not collapsed
            else []
        )
        base_total: Decimal | None = Decimal(0)
        for cur, amount in slot["totals"].items():
            if cur not in rates:
                base_total = None
                break
            base_total += amount * rates[cur]
        columns.append(
            Column(
                stage=stage,
                deals=deals,
                count=slot["n"],
                totals=dict(sorted(slot["totals"].items())),
                weighted=dict(sorted(slot["weighted"].items())),
                base_total=base_total.quantize(CENT) if base_total is not None else None,
                collapsed=collapsed,
                foreign_currency=any(cur != base_currency() for cur in slot["totals"]),
            )
        )
    return columns


def _dec(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT)


# ---------------------------------------------------------------- exchange rates


def rates_on(currencies: set[str], as_of: dt.date) -> tuple[dict[str, Decimal], list[str]]:
    """Rate into the base currency of each currency on ``as_of``; and those without one."""
    base = base_currency()
    rates = {base: Decimal(1)}
    wanted = sorted(c for c in currencies if c != base)
    if wanted:
        rows = (
            ExchangeRate.objects.filter(currency__in=wanted, valid_from__lte=as_of)
            .order_by("currency", "-valid_from")
            .values_list("currency", "rate")
        )
        for code, rate in rows:
            rates.setdefault(code, rate)
    missing = [c for c in wanted if c not in rates]
    return rates, missing


# ---------------------------------------------------------------- forecast


@dataclass
class Figures:
    closed_won: Decimal = Decimal(0)
    commit: Decimal = Decimal(0)
    best_case: Decimal = Decimal(0)
    pipeline: Decimal = Decimal(0)
    weighted_pipeline: Decimal = Decimal(0)
    deals: int = 0

    def add(self, other: Figures) -> None:
        # Spelled out rather than looped over FIGURES: it runs for every cell of every
        # forecast, and getattr/setattr in a loop was a fifth of the request's time.
        self.closed_won += other.closed_won
        self.commit += other.commit
        self.best_case += other.best_case
        self.pipeline += other.pipeline
        self.weighted_pipeline += other.weighted_pipeline
        self.deals += other.deals

    def rounded(self) -> Figures:
        return Figures(
            **{name: getattr(self, name).quantize(CENT) for name in FIGURES}, deals=self.deals
        )

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name).quantize(CENT) for name in FIGURES}
        data["deals"] = self.deals
        return data


@dataclass
class GroupFigures:
    key: str
    label: str
    figures: Figures


@dataclass
class Period:
    key: str
    label: str
    start: dt.date
    end: dt.date
    figures: Figures = field(default_factory=Figures)
    groups: list[GroupFigures] = field(default_factory=list)


@dataclass
class Forecast:
    currency: str
    base_currency: str
    converted: bool
    period: str
    group: str
    start: dt.date
    end: dt.date
    as_of: dt.date
    rates: dict[str, Decimal]
    periods: list[Period]
    totals: Figures
    group_totals: list[GroupFigures]

    @property
    def max_bar(self) -> Decimal:
        """The largest stacked bar of the chart (closed won + commit + best case + pipeline)."""
        best = Decimal(0)
        for p in self.periods:
            f = p.figures
            best = max(best, f.closed_won + f.commit + f.best_case + f.pipeline)
        return best


def _period_bounds(day: dt.date, period: str) -> tuple[dt.date, dt.date, str, str]:
    if period == "month":
        start = day.replace(day=1)
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
        return start, nxt - dt.timedelta(days=1), f"{start:%Y-%m}", f"{start:%b %Y}"
    q = (day.month - 1) // 3
    start = dt.date(day.year, q * 3 + 1, 1)
    nxt = dt.date(day.year + (q == 3), (q * 3 + 3) % 12 + 1, 1)
    return start, nxt - dt.timedelta(days=1), f"{day.year}-Q{q + 1}", f"Q{q + 1} {day.year}"


def _check_range(start: dt.date, end: dt.date) -> list[FieldError]:
    """A range the calendar arithmetic can handle, in order."""
    errors = []
    for name, day in (("from", start), ("to", end)):
        if not 1900 <= day.year <= 9000:
            errors.append(FieldError(name, "Must be a year between 1900 and 9000."))
    if not errors and start > end:
        errors.append(FieldError("to", "Must be on or after from."))
    return errors


def default_range(period: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """This year, by default: the quarters (or months) of the current calendar year."""
    today = today or timezone.localdate()
    return dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)


def forecast(
    user,
    *,
    period: str = "quarter",
    group: str = "owner",
    start: dt.date | None = None,
    end: dt.date | None = None,
    pipeline: Pipeline | None = None,
    currency: str = "",
    as_of: dt.date | None = None,
) -> Forecast:
    """The forecast the reader may see, per ``period`` (month|quarter) and ``group``."""
    errors: list[FieldError] = []
    if period not in ("month", "quarter"):
        errors.append(FieldError("period", "Must be month or quarter."))
    if group not in ("owner", "team", "none"):
        errors.append(FieldError("group", "Must be owner, team or none."))
    default_start, default_end = default_range(period)
    start = start or default_start
    end = end or default_end
    errors += _check_range(start, end)
    base = base_currency()
    code = (currency or "").strip().upper()
    if code and len(code) != 3:
        errors.append(FieldError("currency", "Must be an ISO 4217 code such as EUR or USD."))
    if errors:
        raise ValidationFailed(errors=errors)
    periods: list[Period] = []
    day = start
    while day <= end:
        p_start, p_end, key, label = _period_bounds(day, period)
        periods.append(Period(key=key, label=label, start=p_start, end=p_end))
        day = p_end + dt.timedelta(days=1)
        if len(periods) > MAX_PERIODS:
            raise ValidationFailed.single("to", f"At most {MAX_PERIODS} periods at once.")
    as_of = as_of or timezone.localdate()

    # Read the running totals (ForecastCell), not the deals: a few rows per owner, month
    # and currency, summed per period in SQL with the categories side by side.
    qs = access.scope_cells(user).filter(
        forecast_month__gte=month_key(periods[0].start),
        forecast_month__lte=month_key(periods[-1].end),
    )
    if pipeline is not None:
        qs = qs.filter(pipeline_id=pipeline.pk)
    if code:
        qs = qs.filter(currency=code)
    group_field = {"owner": "owner_key", "team": "team_key", "none": None}[group]
    year = F("forecast_month") / 100
    if period == "month":
        bucket = ExpressionWrapper(F("forecast_month"), output_field=IntegerField())
    else:  # yyyy * 10 + quarter index (0-3), integer arithmetic on both databases
        bucket = ExpressionWrapper(
            year * 10 + (F("forecast_month") - year * 100 - 1) / 3, output_field=IntegerField()
        )
    fields = ["currency", "bucket"] + ([group_field] if group_field else [])
    open_deal = Q(is_won=False)
    rows = list(
        qs.annotate(bucket=bucket)
        .values(*fields)
        .annotate(
            closed_won=Sum("amount_cents", filter=Q(is_won=True)),
            commit=Sum(
                "amount_cents", filter=open_deal & Q(forecast_category=ForecastCategory.COMMIT)
            ),
            best_case=Sum(
                "amount_cents", filter=open_deal & Q(forecast_category=ForecastCategory.BEST_CASE)
            ),
            pipeline=Sum(
                "amount_cents", filter=open_deal & Q(forecast_category=ForecastCategory.PIPELINE)
            ),
            weighted=Sum("weighted_cents", filter=open_deal),
            n=Sum("deals"),
        )
        .order_by()
    )
    if code:
        rates = {code: Decimal(1)}
        report_currency = code
    else:
        rates, missing = rates_on({r["currency"] for r in rows}, as_of)
        if missing:
            raise MissingExchangeRate(missing, base, as_of)
        report_currency = base

    by_bucket = {}
    for p in periods:
        year_, month_ = p.start.year, p.start.month
        by_bucket[year_ * 100 + month_ if period == "month" else year_ * 10 + (month_ - 1) // 3] = p
    group_keys: dict[Any, Figures] = {}
    cells: dict[tuple[str, Any], Figures] = {}
    totals = Figures()
    for row in rows:
        p = by_bucket.get(row["bucket"])
        if p is None:  # pragma: no cover - the month filter keeps rows inside the periods
            continue
        rate = rates[row["currency"]]
        # Cents (and cents × percent for the weighted figure) back into currency units.
        figures = Figures(
            closed_won=Decimal(row["closed_won"] or 0) * rate / 100,
            commit=Decimal(row["commit"] or 0) * rate / 100,
            best_case=Decimal(row["best_case"] or 0) * rate / 100,
            pipeline=Decimal(row["pipeline"] or 0) * rate / 100,
            weighted_pipeline=Decimal(row["weighted"] or 0) * rate / 10000,
            deals=int(row["n"] or 0),
        )
        gkey = (row[group_field] or None) if group_field else "all"
        p.figures.add(figures)
        totals.add(figures)
        cells.setdefault((p.key, gkey), Figures()).add(figures)
        group_keys.setdefault(gkey, Figures()).add(figures)

    labels = _group_labels(group, list(group_keys))
    ordered = sorted(group_keys, key=lambda k: (k is None, labels[k][1].casefold()))
    for p in periods:
        p.figures = p.figures.rounded()
        p.groups = [
            GroupFigures(labels[k][0], labels[k][1], cells[(p.key, k)].rounded())
            for k in ordered
            if (p.key, k) in cells
        ]
    return Forecast(
        currency=report_currency,
        base_currency=base,
        converted=not code,
        period=period,
        group=group,
        start=periods[0].start,
        end=periods[-1].end,
        as_of=as_of,
        rates={k: v for k, v in rates.items() if k != report_currency},
        periods=periods,
        totals=totals.rounded(),
        group_totals=[
            GroupFigures(labels[k][0], labels[k][1], group_keys[k].rounded()) for k in ordered
        ],
    )


def _group_labels(group: str, keys: list[Any]) -> dict[Any, tuple[str, str]]:
    from kith.accounts.models import Team, User

    labels: dict[Any, tuple[str, str]] = {}
    if group == "owner":
        users = {u.pk: u for u in User.objects.filter(pk__in=[k for k in keys if k])}
        for k in keys:
            u = users.get(k)
            labels[k] = (u.username, u.get_full_name() or u.username) if u else ("none", "No owner")
    elif group == "team":
        teams = {t.pk: t for t in Team.objects.filter(pk__in=[k for k in keys if k])}
        for k in keys:
            t = teams.get(k)
            labels[k] = (str(t.public_id), t.name) if t else ("none", "No team")
    else:
        labels = {k: ("all", "All deals") for k in keys}
    return labels


# ---------------------------------------------------------------- conversion and stage times


@dataclass
class StageStats:
    stage: Stage
    entered: int
    advanced: int
    won: int
    conversion: float | None  # share of entered deals that reached a later, not-lost stage
    win_rate: float | None
    average_seconds: float | None  # mean time spent in the stage by deals that left it
    exits: int


def _aware_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    low = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return low, high


def conversion(
    user,
    *,
    pipeline: Pipeline,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[StageStats]:
    """Per stage of ``pipeline``: deals that entered it in the range and how many went on.

    ``advanced`` counts the deals that later reached a stage further down the pipeline
    that is not a lost stage; ``won`` those that reached a won stage. The average time
    in a stage is over the moves *out of* it within the range.
    """
    today = timezone.localdate()
    start = start or today - dt.timedelta(days=365)
    end = end or today
    errors = _check_range(start, end)
    if errors:
        raise ValidationFailed(errors=errors)
    low, high = _aware_range(start, end)
    visible = access.scope_deals(user).filter(pipeline=pipeline).values("pk")
    in_range = StageChange.objects.filter(
        deal__in=visible, changed_at__gte=low, changed_at__lt=high
    )

    def went_on(**stage_filter) -> Exists:
        # The same deal reached a stage further down this pipeline (at any time).
        return Exists(
            StageChange.objects.filter(
                deal_id=OuterRef("deal_id"),
                to_stage__pipeline=pipeline,
                to_stage__order__gt=OuterRef("to_stage__order"),
                **stage_filter,
            )
        )

    # One pass over the moves in the range, per stage entered: how many deals, and how
    # many of those went on (not lost) or were won.
    cohorts = {
        row["to_stage_id"]: row
        for row in in_range.annotate(
            advanced_flag=went_on(to_stage__is_lost=False), won_flag=went_on(to_stage__is_won=True)
        )
        .values("to_stage_id")
        .annotate(
            n=Count("deal_id", distinct=True),
            advanced=Count("deal_id", distinct=True, filter=Q(advanced_flag=True)),
            won=Count("deal_id", distinct=True, filter=Q(won_flag=True)),
        )
        .order_by()
    }
    times = {
        row["from_stage_id"]: row
        for row in in_range.filter(from_stage__isnull=False)
        .values("from_stage_id")
        .annotate(avg=Avg("seconds_in_from_stage"), n=Count("id"))
        .order_by()
    }
    stats = []
    for stage in pipeline.stages.order_by("order", "id"):
        row = cohorts.get(stage.pk, {})
        n = row.get("n", 0)
        closed = stage.is_won or stage.is_lost
        advanced = 0 if closed else row.get("advanced", 0)
        won = 0 if closed else row.get("won", 0)
        t = times.get(stage.pk)
        stats.append(
            StageStats(
                stage=stage,
                entered=n,
                advanced=advanced,
                won=won,
                conversion=(advanced / n) if n and not stage.is_closed else None,
                win_rate=(won / n) if n and not stage.is_closed else None,
                average_seconds=float(t["avg"]) if t and t["avg"] is not None else None,
                exits=t["n"] if t else 0,
            )
        )
    return stats


# ---------------------------------------------------------------- a deal's page


def stage_history(deal: Deal) -> list[dict[str, Any]]:
    """The deal's moves, oldest first, with the time spent in each stage."""
    changes = list(
        deal.stage_changes.select_related("from_stage", "to_stage", "changed_by").order_by(
            "changed_at", "id"
        )
    )
    now = timezone.now()
    out = []
    for i, change in enumerate(changes):
        left_at = changes[i + 1].changed_at if i + 1 < len(changes) else None
        seconds = int(((left_at or now) - change.changed_at).total_seconds())
        out.append(
            {
                "change": change,
                "seconds_in_stage": max(0, seconds),
                "current": left_at is None,
            }
        )
    return out


def deal_timeline(user, deal: Deal, *, limit: int = 50) -> list[Interaction]:
    """Interactions linked to the deal and those of its people the reader may see."""
    party_ids = [deal.person_id] if deal.person_id else []
    party_ids += list(deal.contacts.values_list("person_id", flat=True))
    visible = people_access.staff_scope(user).values("pk")
    ct = ContentType.objects.get_for_model(Deal)
    condition = Q(related_type=ct, related_id=deal.pk)
    if party_ids:
        condition |= Q(party_id__in=party_ids)
    # Interactions mirroring other records (a case note on a contact) obey those records.
    qs = Interaction.objects.filter(condition).filter(party__in=visible)
    return take_visible(
        user,
        qs.select_related("party", "actor"),
        order=("-occurred_at", "-id"),
        cursor=None,
        limit=limit,
    ).items


def format_duration(seconds: float | None) -> str:
    """``93784`` → ``1 d 2 h``; a short, human reading of a time in stage."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours and days < 10 else f"{days} d"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{max(1, rest // 60)} min" if seconds else "0 min"
