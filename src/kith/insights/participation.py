"""Participation inequality in the community: lurkers, contributors, heavy contributors.

Membership is not participation. Nielsen's 90-9-1 rule says most members only read, a
few contribute now and then, and a handful write most of what there is. This module
measures it from the community's own activity, per space and overall:

- a **member** of a period is a non-staff user who was active in it: visited the
  community (``community.Visit``, overall only — visits are not per space), read a
  post (``community.PostRead``) or wrote one;
- a **contribution** is a post they wrote in the period (question, answer or comment,
  not deleted);
- a **lurker** made none; a **heavy contributor** made at least ``heavy_per_month``
  per 30 days of the period; a **contributor** made some but fewer.

The Gini coefficient of contributions (lurkers count, with 0) and the Lorenz curve say
how unequal the voices are: 0 when everyone writes as much, close to 1 when one member
writes everything. Read-only: nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from kith.community.models import Post, PostRead, Space, Visit
from kith.core.errors import ValidationFailed

LURKER, CONTRIBUTOR, HEAVY = "lurker", "contributor", "heavy"
LEVELS = (LURKER, CONTRIBUTOR, HEAVY)
DEFAULT_DAYS = 90
DEFAULT_HEAVY_PER_MONTH = 5.0


def gini(values: Sequence[float]) -> float | None:
    """The Gini coefficient of ``values`` (≥ 0): None for no values, 0.0 when all are 0.

    Computed from the sorted values: G = Σ (2i − n − 1)·xᵢ / (n·Σ x), i = 1…n, the
    sample form (one member holding everything among n gives (n − 1)/n).
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return None
    if np.any(x < 0):
        raise ValueError("contributions cannot be negative")
    total = x.sum()
    if total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def lorenz(values: Sequence[float], points: int = 11) -> list[tuple[float, float]]:
    """The Lorenz curve at ``points`` evenly spaced population shares (0 … 1).

    Each pair is (share of members, ranked from the least contributing, share of the
    contributions they made). Empty or all-zero input gives the line of equality's
    ends only where it is defined: [] for no members, zeros then 1.0 at the end for
    all-zero contributions is misleading, so all-zero gives the equality line.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return []
    total = x.sum()
    shares = np.linspace(0.0, 1.0, points)
    if total == 0:
        return [(float(p), float(p)) for p in shares]
    cum = np.concatenate([[0.0], np.cumsum(x) / total])
    # Linear interpolation between member boundaries k/n.
    pos = shares * n
    lower = np.floor(pos).astype(int)
    upper = np.minimum(lower + 1, n)
    frac = pos - lower
    y = cum[lower] + (cum[upper] - cum[lower]) * frac
    return [(float(p), float(min(v, 1.0))) for p, v in zip(shares, y, strict=True)]


def level_of(posts: int, *, days: float, heavy_per_month: float) -> str:
    """A member's level from their contributions over a period of ``days``."""
    if posts <= 0:
        return LURKER
    return HEAVY if posts >= heavy_threshold(days, heavy_per_month) else CONTRIBUTOR


def heavy_threshold(days: float, heavy_per_month: float) -> int:
    """Contributions that make a heavy contributor over ``days`` (at least 2)."""
    return max(2, math.ceil(heavy_per_month * days / 30.0))


@dataclass
class Report:
    """Participation of one space (or the whole community) over one period."""

    space: Space | None
    start: dt.datetime
    end: dt.datetime
    heavy_per_month: float
    members: int = 0
    contributions: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    # Share of the contributions each level made.
    contribution_shares: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(LEVELS, 0.0)
    )
    gini: float | None = None
    lorenz: list[tuple[float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.members == 0

    @property
    def shares(self) -> dict[str, float]:
        """Share of members at each level (all 0.0 for an empty space)."""
        if not self.members:
            return dict.fromkeys(LEVELS, 0.0)
        return {k: v / self.members for k, v in self.counts.items()}

    @property
    def message(self) -> str:
        if self.empty:
            return "No one was active here in this period: nothing to measure."
        if not self.contributions:
            return "Members read but no one wrote in this period."
        return ""


def _period(days: int, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if not 1 <= days <= 3660:
        raise ValidationFailed.single("days", "Between 1 and 3660.")
    end = end or timezone.now()
    return end - dt.timedelta(days=days), end


def _staff_ids() -> set[int]:
    return set(get_user_model().objects.filter(kind="staff").values_list("id", flat=True))


def activity(
    *, space: Space | None, start: dt.datetime, end: dt.datetime
) -> tuple[set[int], dict[int, int]]:
    """(active non-staff members, their contributions) of ``space`` (or all) in the period."""
    posts = Post.objects.filter(
        created_at__gte=start, created_at__lt=end, deleted_at__isnull=True, author__isnull=False
    )
    reads = PostRead.objects.filter(created_at__gte=start, created_at__lt=end)
    if space is not None:
        posts = posts.filter(topic__space=space)
        reads = reads.filter(post__topic__space=space)
    staff = _staff_ids()
    contributions = {
        uid: n
        for uid, n in posts.values_list("author_id").annotate(n=Count("id")).order_by()
        if uid not in staff
    }
    members = set(contributions)
    members.update(reads.values_list("user_id", flat=True).distinct())
    if space is None:
        members.update(
            Visit.objects.filter(day__gte=start.date(), day__lt=end.date() + dt.timedelta(days=1))
            .values_list("user_id", flat=True)
            .distinct()
        )
    members -= staff
    return members, contributions


def summarise(
    *,
    space: Space | None,
    members: set[int],
    contributions: dict[int, int],
    start: dt.datetime,
    end: dt.datetime,
    heavy_per_month: float,
) -> Report:
    """The report from raw activity (pure: no queries)."""
    days = max((end - start).total_seconds() / 86400.0, 1.0)
    report = Report(space=space, start=start, end=end, heavy_per_month=heavy_per_month)
    report.members = len(members)
    values = [contributions.get(uid, 0) for uid in members]
    report.contributions = int(sum(values))
    by_level: dict[str, int] = defaultdict(int)
    for v in values:
        level = level_of(v, days=days, heavy_per_month=heavy_per_month)
        report.counts[level] += 1
        by_level[level] += v
    if report.contributions:
        report.contribution_shares = {k: by_level[k] / report.contributions for k in LEVELS}
    report.gini = gini(values)
    report.lorenz = lorenz(values)
    return report


def participation(
    *,
    space: Space | None = None,
    days: int = DEFAULT_DAYS,
    end: dt.datetime | None = None,
    heavy_per_month: float = DEFAULT_HEAVY_PER_MONTH,
) -> Report:
    """Participation of ``space`` (None: the whole community) over the last ``days``."""
    if not 0 < heavy_per_month <= 1000:
        raise ValidationFailed.single("heavy_per_month", "Greater than 0, at most 1000.")
    start, end = _period(days, end)
    members, contributions = activity(space=space, start=start, end=end)
    return summarise(
        space=space,
        members=members,
        contributions=contributions,
        start=start,
        end=end,
        heavy_per_month=heavy_per_month,
    )


def by_space(
    *, days: int = DEFAULT_DAYS, heavy_per_month: float = DEFAULT_HEAVY_PER_MONTH
) -> list[Report]:
    """One report per space that is not archived, busiest first."""
    reports = [
        participation(space=s, days=days, heavy_per_month=heavy_per_month)
        for s in Space.objects.filter(archived_at__isnull=True).order_by("name", "id")
    ]
    return sorted(reports, key=lambda r: (-r.members, r.space.name if r.space else ""))


@dataclass(frozen=True)
class MonthPoint:
    month: dt.date
    members: int
    shares: dict[str, float]
    gini: float | None


def trend(
    *,
    space: Space | None = None,
    months: int = 12,
    heavy_per_month: float = DEFAULT_HEAVY_PER_MONTH,
    now: dt.datetime | None = None,
) -> list[MonthPoint]:
    """Month by month (oldest first, the current month last): shares and Gini.

    Three grouped queries for the whole range (posts, reads, visits by user and month),
    not three per month.
    """
    if not 1 <= months <= 60:
        raise ValidationFailed.single("months", "Between 1 and 60.")
    now = now or timezone.now()
    first = now.date().replace(day=1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    staff = _staff_ids()
    posts = Post.objects.filter(
        created_at__gte=start, deleted_at__isnull=True, author__isnull=False
    )
    reads = PostRead.objects.filter(created_at__gte=start)
    if space is not None:
        posts = posts.filter(topic__space=space)
        reads = reads.filter(post__topic__space=space)
    members: dict[dt.date, set[int]] = defaultdict(set)
    contributions: dict[dt.date, dict[int, int]] = defaultdict(dict)
    for uid, month, n in (
        posts.annotate(m=TruncMonth("created_at", tzinfo=dt.UTC))
        .values_list("author_id", "m")
        .annotate(n=Count("id"))
        .order_by()
    ):
        key = _month_key(month)
        contributions[key][uid] = n
        members[key].add(uid)
    for uid, month in (
        reads.annotate(m=TruncMonth("created_at", tzinfo=dt.UTC))
        .values_list("user_id", "m")
        .distinct()
        .order_by()
    ):
        members[_month_key(month)].add(uid)
    if space is None:
        for uid, day in Visit.objects.filter(day__gte=first).values_list("user_id", "day"):
            members[day.replace(day=1)].add(uid)
    out = []
    month = first
    for _ in range(months):
        nxt = (month + dt.timedelta(days=32)).replace(day=1)
        who = members.get(month, set()) - staff
        report = summarise(
            space=space,
            members=who,
            contributions=contributions.get(month, {}),
            start=dt.datetime.combine(month, dt.time.min, tzinfo=dt.UTC),
            end=dt.datetime.combine(nxt, dt.time.min, tzinfo=dt.UTC),
            heavy_per_month=heavy_per_month,
        )
        out.append(
            MonthPoint(month=month, members=report.members, shares=report.shares, gini=report.gini)
        )
        month = nxt
    return out


def _month_key(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date().replace(day=1)
    return value.replace(day=1)


def level_by_user(
    *, days: int = DEFAULT_DAYS, heavy_per_month: float = DEFAULT_HEAVY_PER_MONTH
) -> dict[int, str]:
    """Every active member's level over the last ``days`` (user id → level), overall."""
    start, end = _period(days, None)
    members, contributions = activity(space=None, start=start, end=end)
    return {
        uid: level_of(contributions.get(uid, 0), days=days, heavy_per_month=heavy_per_month)
        for uid in members
    }
