"""Spike alerts: a jump in volume or in negative share tells the people who follow it.

Every few minutes the worker (``check_spikes``) looks at the last full hour on each
enabled source and each active keyword and compares it with the same hour on each of the
trailing ``BASELINE_DAYS`` days (conversation has a daily rhythm: 9 o'clock is compared
with 9 o'clock, not with 3 at night):

* **volume** spikes when the hour's mentions reach ``min_count`` and exceed
  mean + k·sd of the baseline hours;
* **negative share** spikes when the hour has at least ``min_count`` mentions and its
  share of negative ones exceeds both mean + k·sd of the baseline hours' shares and the
  mean plus ``min_share_lift`` (a quiet, always-neutral source has sd 0, and one
  complaint among ten must not page anyone).

The thresholds are Django settings (``KITH_LISTENING_SPIKE_K``, ``…_MIN_COUNT``,
``…_MIN_SHARE_LIFT``) with defaults that suit a small brand.

**Once per spike.** A spike becomes one ``SpikeAlert`` row. The next hour that still
spikes extends that row (``last_window_start``) instead of notifying again; only a spike
after at least one calm hour is news. The row's partial unique constraints make two
workers checking the same hour insert it once, and only the inserting transaction
notifies.

Who is told: the users in the source's or keyword's ``followers`` and whoever follows
it through ``kith.collab`` (``Follow``), plus a source's owner, each with an in-app
notification (``kith.collab.services.notify``, which also pushes the unread count live
and mails those who chose immediate mail).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from kith.core import events
from kith.listening.dashboards import has_keyword
from kith.listening.models import Keyword, Mention, MentionStatus, Sentiment, Source, SpikeAlert

logger = logging.getLogger("kith.listening.alerts")

BASELINE_DAYS = 7
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Thresholds:
    k: float = 3.0
    min_count: int = 10
    min_share_lift: float = 0.2

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            k=float(getattr(settings, "KITH_LISTENING_SPIKE_K", cls.k)),
            min_count=int(getattr(settings, "KITH_LISTENING_SPIKE_MIN_COUNT", cls.min_count)),
            min_share_lift=float(
                getattr(settings, "KITH_LISTENING_SPIKE_MIN_SHARE_LIFT", cls.min_share_lift)
            ),
        )


@dataclass(frozen=True)
class Window:
    """Counts in one hour for one scope."""

    total: int
    negative: int

    @property
    def share(self) -> float:
        return self.negative / self.total if self.total else 0.0


@dataclass(frozen=True)
class Spike:
    metric: str
    observed: float
    mean: float
    sd: float
    threshold: float
    count: int


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def detect(current: Window, baseline: list[Window], th: Thresholds) -> list[Spike]:
    """The spikes ``current`` shows against ``baseline`` (a pure function; tested alone)."""
    spikes = []
    if current.total >= th.min_count:
        mean, sd = _mean_sd([float(w.total) for w in baseline])
        threshold = mean + th.k * sd
        if current.total > threshold:
            spikes.append(
                Spike(SpikeAlert.Metric.VOLUME, current.total, mean, sd, threshold, current.total)
            )
        # Shares only from hours that had mentions: an empty hour has no share.
        mean, sd = _mean_sd([w.share for w in baseline if w.total])
        threshold = max(mean + th.k * sd, mean + th.min_share_lift)
        if current.share > threshold:
            spikes.append(
                Spike(
                    SpikeAlert.Metric.NEGATIVE_SHARE,
                    round(current.share, 4),
                    mean,
                    sd,
                    threshold,
                    current.total,
                )
            )
    return spikes


def last_full_hour(now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) - HOUR


def _windows() -> list[int]:
    """Offsets in days of the hours compared: 0 (the hour itself), then the baseline days."""
    return list(range(BASELINE_DAYS + 1))


def _counts(start: dt.datetime) -> tuple[dict[int, Window], dict[int, Window]]:
    """Per source and per keyword (by pk): mentions and negative mentions in [start, +1h)."""
    qs = Mention.objects.filter(published_at__gte=start, published_at__lt=start + HOUR).exclude(
        status=MentionStatus.SPAM
    )
    neg = Q(sentiment_label=Sentiment.NEGATIVE)
    by_source = {
        row["source_id"]: Window(row["n"], row["neg"])
        for row in qs.values("source_id")
        .annotate(n=Count("id"), neg=Count("id", filter=neg))
        .order_by()
    }
    keywords = list(Keyword.objects.filter(active=True).values_list("pk", "normalized"))
    by_keyword: dict[int, Window] = {}
    if keywords:
        aggregates = {}
        for pk, term in keywords:
            has = has_keyword(term)
            aggregates[f"n{pk}"] = Count("id", filter=has)
            aggregates[f"g{pk}"] = Count("id", filter=has & neg)
        row = qs.aggregate(**aggregates)
        by_keyword = {pk: Window(row[f"n{pk}"], row[f"g{pk}"]) for pk, _ in keywords}
    return by_source, by_keyword


def check_spikes(*, now: dt.datetime | None = None, thresholds: Thresholds | None = None) -> int:
    """Look at the last full hour; record and notify new spikes. Returns how many were new."""
    th = thresholds or Thresholds.from_settings()
    window = last_full_hour(now)
    counts = [_counts(window - dt.timedelta(days=d)) for d in _windows()]
    empty = Window(0, 0)
    new = 0
    for source in Source.objects.filter(enabled=True):
        current = counts[0][0].get(source.pk, empty)
        if current.total < th.min_count:
            continue  # cheap exit for the common case
        baseline = [c[0].get(source.pk, empty) for c in counts[1:]]
        for spike in detect(current, baseline, th):
            new += _record(spike, window, source=source)
    for keyword in Keyword.objects.filter(active=True):
        current = counts[0][1].get(keyword.pk, empty)
        if current.total < th.min_count:
            continue
        baseline = [c[1].get(keyword.pk, empty) for c in counts[1:]]
        for spike in detect(current, baseline, th):
            new += _record(spike, window, keyword=keyword)
    return new


def _record(
    spike: Spike,
    window: dt.datetime,
    *,
    source: Source | None = None,
    keyword: Keyword | None = None,
) -> int:
    """Store the spike (or extend the one still running); notify only a new one."""
    scope = {"source": source} if source is not None else {"keyword": keyword}
    try:
        with transaction.atomic():
            running = (
                SpikeAlert.objects.select_for_update()
                .filter(
                    metric=spike.metric,
                    last_window_start__gte=window - HOUR,
                    window_start__lte=window,
                    **scope,
                )
                .first()
            )
            if running is not None:
                if running.last_window_start < window:
                    running.last_window_start = window
                    running.save(update_fields=["last_window_start", "updated_at"])
                return 0
            alert = SpikeAlert.objects.create(
                scope=SpikeAlert.Scope.SOURCE if source is not None else SpikeAlert.Scope.KEYWORD,
                metric=spike.metric,
                window_start=window,
                last_window_start=window,
                observed=spike.observed,
                baseline_mean=spike.mean,
                baseline_sd=spike.sd,
                threshold=spike.threshold,
                count=spike.count,
                **scope,
            )
            alert.notified = _notify(alert)
            alert.save(update_fields=["notified", "updated_at"])
            events.emit(
                "spike_alert.created",
                obj=alert,
                data={
                    "metric": alert.metric,
                    "scope": alert.scope,
                    "target": str((source or keyword).public_id),
                    "window_start": window.isoformat(),
                    "observed": alert.observed,
                    "threshold": alert.threshold,
                    "count": alert.count,
                },
            )
            return 1
    except IntegrityError:
        # Another worker recorded this hour's spike first (and notified).
        return 0


def describe(alert: SpikeAlert) -> str:
    """The notification's sentence, e.g. 'Negative share spike on Acme (keyword): 64% …'."""
    target = alert.source.name if alert.source_id else alert.keyword.term
    kind = "source" if alert.source_id else "keyword"
    local = timezone.localtime(alert.window_start).strftime("%Y-%m-%d %H:%M")
    if alert.metric == SpikeAlert.Metric.VOLUME:
        return (
            f"Volume spike on {target} ({kind}): {int(alert.observed)} mentions in the hour "
            f"from {local}, usually {alert.baseline_mean:.1f}."
        )
    return (
        f"Negative share spike on {target} ({kind}): {alert.observed:.0%} of {alert.count} "
        f"mentions in the hour from {local} were negative, usually {alert.baseline_mean:.0%}."
    )


def recipients(alert: SpikeAlert) -> list:
    """Active staff users who follow the source or keyword (either way), and its owner."""
    from kith.accounts.models import User
    from kith.collab import queries as collab_queries

    target = alert.source if alert.source_id else alert.keyword
    ids = set(target.followers.values_list("pk", flat=True))
    ids |= set(collab_queries.followers(target).values_list("follower_id", flat=True))
    if alert.source_id and alert.source.owner_id:
        ids.add(alert.source.owner_id)
    users = User.objects.filter(pk__in=ids, is_active=True).order_by("pk")
    return [u for u in users if getattr(u, "is_staff_user", False)]


def _notify(alert: SpikeAlert) -> int:
    from kith.collab import services as collab_services
    from kith.collab.models import Notification

    url = reverse("listening:dashboards") + "?" + _dashboard_query(alert)
    text = describe(alert)
    users = recipients(alert)
    for user in users:
        collab_services.notify(user=user, verb=Notification.Verb.SYSTEM, text=text, url=url)
    return len(users)


def _dashboard_query(alert: SpikeAlert) -> str:
    from urllib.parse import urlencode

    day = timezone.localtime(alert.window_start).date()
    query = {"from": (day - dt.timedelta(days=BASELINE_DAYS)).isoformat(), "to": day.isoformat()}
    if alert.source_id:
        query["source"] = str(alert.source.public_id)
    return urlencode(query)
