"""The home dashboard: what a member of staff needs first thing, on one page.

My open deals and this quarter's forecast, my open cases with the SLA clocks closest to
breaching, my day (overdue, today, meetings), the mentions waiting for me, and the latest
touchpoints on records I may see — plus three charts drawn on the server (CSAT and SLA
breaches per week, stage conversion). Every number comes from the apps' own queries and
access scopes, so the dashboard never shows what the user could not open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from kith.web.charts import Chart, Series

WEEKS = 8
LIST_LIMIT = 5


@dataclass
class Dashboard:
    today: dt.date
    now_hour: int = 12
    deals: list[Any] = field(default_factory=list)
    deal_count: int = 0
    deal_totals: dict[str, Decimal] = field(default_factory=dict)
    forecast: Any = None
    cases: list[Any] = field(default_factory=list)
    case_count: int = 0
    at_risk: list[Any] = field(default_factory=list)
    my_day: Any = None
    mentions: list[Any] = field(default_factory=list)
    unread_mentions: int = 0
    recent: list[Any] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


def _week_labels(today: dt.date) -> list[dt.date]:
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]


def _per_week(qs, field: str, **aggregates) -> dict[dt.date, dict[str, Any]]:
    """``aggregates`` of ``qs`` per week of ``field``, keyed by the week's Monday."""
    rows = qs.annotate(week=TruncWeek(field)).values("week").annotate(**aggregates)
    return {
        row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]: row
        for row in rows
    }


def _my_deals(user, board: Dashboard) -> None:
    from kith.sales import access, queries

    mine = access.scope_deals(user).filter(owner=user, stage__is_won=False, stage__is_lost=False)
    board.deal_count = mine.count()
    board.deal_totals = {
        row["currency"]: row["total"] or Decimal(0)
        for row in mine.values("currency").annotate(total=Sum("amount")).order_by("currency")
    }
    board.deals = list(
        queries.with_list_data(mine).order_by("expected_close_date", "-amount", "id")[:LIST_LIMIT]
    )
    try:
        board.forecast = queries.forecast(user, period="quarter", group="none")
    except Exception:  # a missing exchange rate must not take the whole page down
        board.forecast = None


def _my_cases(user, board: Dashboard) -> None:
    from kith.service import access, queries
    from kith.service.models import OPEN_STATUSES

    mine = access.scope_cases(user).filter(assignee=user, status__in=OPEN_STATUSES)
    board.case_count = mine.count()
    # The (assignee, next_due_at) index serves this: the clocks closest to breaching first.
    board.cases = list(
        mine.select_related("requester", "queue").order_by("next_due_at", "id")[:LIST_LIMIT]
    )
    now = timezone.now()
    for case in board.cases:
        case.clock = queries.next_clock(case, now=now)
    board.at_risk = [
        c
        for c in board.cases
        if c.clock is not None
        and (
            c.clock.breached
            or (c.clock.due_at is not None and c.clock.due_at - now < dt.timedelta(hours=4))
        )
    ]


def _mentions(user, board: Dashboard) -> None:
    from kith.collab.models import Notification

    mine = Notification.objects.filter(user=user, verb=Notification.Verb.MENTION)
    board.unread_mentions = mine.filter(read_at__isnull=True).count()
    board.mentions = list(mine.select_related("actor").order_by("-id")[:LIST_LIMIT])


def _recent(user, board: Dashboard) -> None:
    from kith.interactions import access

    board.recent = list(
        access.scope_interactions(user)
        .select_related("party")
        .order_by("-occurred_at", "-id")[: LIST_LIMIT + 3]
    )


def _charts(user, board: Dashboard) -> None:
    from kith.sales import queries as sales_queries
    from kith.sales.models import Pipeline
    from kith.service import access as service_access
    from kith.service.models import CsatResponse, SlaBreach

    weeks = _week_labels(board.today)
    start = timezone.make_aware(dt.datetime.combine(weeks[0], dt.time.min))
    labels = [w.strftime("%d %b") for w in weeks]
    cases = service_access.scope_cases(user).values("pk")

    csat = _per_week(
        CsatResponse.objects.filter(case__in=cases, created_at__gte=start),
        "created_at",
        avg=Avg("rating"),
        n=Count("id"),
    )
    board.charts.append(
        Chart(
            kind="line",
            title="Customer satisfaction per week",
            description="Average CSAT rating (1–5) of the cases you may see, per week.",
            categories=labels,
            series=[
                Series(
                    "Average rating",
                    [round(float(csat[w]["avg"]), 2) if w in csat else 0 for w in weeks],
                )
            ],
            value_label="Rating",
            width=480,
            height=220,
        )
    )

    breaches = _per_week(
        SlaBreach.objects.filter(case__in=cases, breached_at__gte=start),
        "breached_at",
        first=Count("id", filter=Q(kind="first_response")),
        total=Count("id"),
    )
    board.charts.append(
        Chart(
            kind="stacked",
            title="SLA breaches per week",
            description="Breached first-response and resolution targets, per week.",
            categories=labels,
            series=[
                Series(
                    "First response", [breaches[w]["first"] if w in breaches else 0 for w in weeks]
                ),
                Series(
                    "Resolution",
                    [
                        breaches[w]["total"] - breaches[w]["first"] if w in breaches else 0
                        for w in weeks
                    ],
                ),
            ],
            value_label="Breaches",
            width=480,
            height=220,
        )
    )

    pipeline = Pipeline.objects.filter(active=True).first()  # the default one first (Meta)
    if pipeline is not None:
        stats = sales_queries.conversion(user, pipeline=pipeline)
        open_stats = [s for s in stats if not (s.stage.is_won or s.stage.is_lost)]
        board.charts.append(
            Chart(
                kind="hbar",
                title=f"Conversion by stage ({pipeline.name}, last 12 months)",
                description="Share of deals entering each stage that went on to a later stage.",
                categories=[s.stage.name for s in open_stats],
                series=[Series("Conversion", [s.conversion or 0 for s in open_stats])],
                value_label="Conversion",
                value_format="{:.0%}",
                width=480,
                height=max(120, 34 * len(open_stats) + 40),
            )
        )


def build(user, *, today: dt.date | None = None) -> Dashboard:
    """Everything the home page shows for ``user`` (staff)."""
    from kith.work import queries as work_queries

    board = Dashboard(today=today or timezone.localdate(), now_hour=timezone.localtime().hour)
    _my_deals(user, board)
    _my_cases(user, board)
    board.my_day = work_queries.my_day(user)
    _mentions(user, board)
    _recent(user, board)
    _charts(user, board)
    return board
