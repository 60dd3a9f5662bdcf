"""Listening dashboards: the aggregations behind the charts (volume, sentiment, share of
voice, top authors, top topics, response times) over a date range.

Each function returns a ``kith.web.charts.Chart`` (the same numbers draw the SVG, the
table and the CSV) and reads only what it counts: grouped queries on the indexed
``published_at`` column, never every mention's row. Spam is left out everywhere (it is
not voice); duplicates (reposts) count, because a repost is someone amplifying the
conversation.

Days are the user's days: the range and the buckets are in the current time zone (the
staff view activates the user's), so "today" on the chart is the user's today. Ranges
longer than ``WEEKLY_ABOVE_DAYS`` are bucketed by week so a chart keeps a readable width.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from kith.core.errors import FieldError, ValidationFailed
from kith.listening.models import Keyword, Mention, MentionStatus, Sentiment, Source
from kith.web.charts import Chart, Series

DEFAULT_DAYS = 30
MAX_DAYS = 366 * 2
WEEKLY_ABOVE_DAYS = 92
TOP_LIMIT = 10

SENTIMENT_COLOURS = {
    Sentiment.NEGATIVE: "#D55E00",
    Sentiment.NEUTRAL: "#999999",
    Sentiment.POSITIVE: "#009E73",
}


@dataclass(frozen=True)
class Range:
    """Inclusive calendar days ``first``…``last`` in the current time zone, plus a source."""

    first: dt.date
    last: dt.date
    source: Source | None = None

    @property
    def start(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.first, dt.time.min))

    @property
    def end(self) -> dt.datetime:
        """Exclusive upper bound: midnight after ``last``."""
        return timezone.make_aware(
            dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min)
        )

    @property
    def weekly(self) -> bool:
        return (self.last - self.first).days + 1 > WEEKLY_ABOVE_DAYS

    def buckets(self) -> list[dt.date]:
        """Every bucket's first day, so days without mentions show as zero, not a gap."""
        if self.weekly:
            day = self.first - dt.timedelta(days=self.first.weekday())
            step = dt.timedelta(days=7)
        else:
            day, step = self.first, dt.timedelta(days=1)
        out = []
        while day <= self.last:
            out.append(day)
            day += step
        return out

    def query(self) -> dict[str, str]:
        """The range as query parameters (for the CSV links)."""
        q = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.source is not None:
            q["source"] = str(self.source.public_id)
        return q


def parse_range(raw_from: str | None, raw_to: str | None, raw_source: str | None = None) -> Range:
    """The range a dashboard asks for; defaults to the last ``DEFAULT_DAYS`` days.

    Raises ``ValidationFailed`` naming the field (``from``, ``to`` or ``source``).
    """
    today = timezone.localdate()
    errors: list[FieldError] = []

    def day(raw: str | None, name: str) -> dt.date | None:
        raw = (raw or "").strip()
        if not raw:
            return None
        try:
            if len(raw) != 10:
                raise ValueError(raw)
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors.append(FieldError(name, "Enter a date as YYYY-MM-DD."))
            return None

    last = day(raw_to, "to") or today
    first = day(raw_from, "from") or (last - dt.timedelta(days=DEFAULT_DAYS - 1))
    source = None
    if raw_source:
        source = _source(raw_source)
        if source is None:
            errors.append(FieldError("source", "No such source."))
    if not errors and first > last:
        errors.append(FieldError("from", "The start must not be after the end."))
    if not errors and (last - first).days + 1 > MAX_DAYS:
        errors.append(FieldError("from", f"Choose at most {MAX_DAYS} days."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return Range(first, last, source)


def _source(raw: str) -> Source | None:
    try:
        public_id = uuid.UUID(raw.strip())
    except ValueError:
        return None
    return Source.objects.filter(public_id=public_id).first()


def mentions_in(rng: Range) -> QuerySet[Mention]:
    """Non-spam mentions published in the range (and on its source, if any)."""
    qs = Mention.objects.filter(published_at__gte=rng.start, published_at__lt=rng.end).exclude(
        status=MentionStatus.SPAM
    )
    if rng.source is not None:
        qs = qs.filter(source=rng.source)
    return qs


def _bucket_expr(rng: Range):
    tz = timezone.get_current_timezone()
    return (
        TruncWeek("published_at", tzinfo=tz) if rng.weekly else TruncDate("published_at", tzinfo=tz)
    )


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _labels(rng: Range) -> list[str]:
    return [d.isoformat() for d in rng.buckets()]


def _ticks(rng: Range) -> list[str]:
    """Axis labels: "5 Nov" (the year only when the range spans two)."""
    years = rng.first.year != rng.last.year
    return [f"{d.day} {d:%b}" + (f" {d:%y}" if years else "") for d in rng.buckets()]


def _category_label(rng: Range) -> str:
    return "Week of" if rng.weekly else "Day"


# ---------------------------------------------------------------------- charts
def volume(rng: Range) -> Chart:
    """Mentions per day (or week), stacked by sentiment: volume and sentiment at once."""
    rows = (
        mentions_in(rng)
        .annotate(bucket=_bucket_expr(rng))
        .values("bucket", "sentiment_label")
        .annotate(n=Count("id"))
        .order_by()
    )
    index = {d: i for i, d in enumerate(rng.buckets())}
    counts = {s: [0] * len(index) for s in Sentiment.values}
    for row in rows:
        i = index.get(_as_date(row["bucket"]))
        if i is not None and row["sentiment_label"] in counts:
            counts[row["sentiment_label"]][i] += row["n"]
    series = [
        Series(label, counts[value], SENTIMENT_COLOURS[value]) for value, label in Sentiment.choices
    ]
    return Chart(
        kind="stacked",
        title="Volume by sentiment",
        categories=_labels(rng),
        tick_labels=_ticks(rng),
        series=series,
        value_label="Mentions",
        category_label=_category_label(rng),
    )


def negative_share(rng: Range) -> Chart:
    """The share of negative mentions per bucket (a line), from the same counts as volume."""
    vol = volume(rng)
    neg = vol.series[0].values
    totals = [sum(s.values[i] for s in vol.series) for i in range(len(vol.categories))]
    share = [round(n / t, 4) if t else 0.0 for n, t in zip(neg, totals, strict=True)]
    return Chart(
        kind="line",
        title="Negative share",
        categories=vol.categories,
        tick_labels=vol.tick_labels,
        series=[Series("Negative share", share, SENTIMENT_COLOURS[Sentiment.NEGATIVE])],
        value_label="Share",
        category_label=vol.category_label,
        value_format="{:.0%}",
    )


def has_keyword(term: str) -> Q:
    """Mentions whose ``keywords`` list holds ``term`` (normalised).

    PostgreSQL answers JSON containment directly; SQLite has no ``contains`` on JSON, so
    it matches the stored JSON text for the quoted term, which (quotes included) only a
    whole list element can match.
    """
    if connection.vendor == "postgresql":
        return Q(keywords__contains=[term])
    return Q(keywords__icontains=json.dumps(term))


def share_of_voice(rng: Range) -> Chart:
    """Mentions per tracked keyword per bucket (competitors included), stacked."""
    keywords = list(Keyword.objects.filter(active=True).order_by("is_competitor", "term"))
    index = {d: i for i, d in enumerate(rng.buckets())}
    series = []
    if keywords:
        aggregates = {
            f"k{i}": Count("id", filter=has_keyword(k.normalized)) for i, k in enumerate(keywords)
        }
        rows = (
            mentions_in(rng)
            .annotate(bucket=_bucket_expr(rng))
            .values("bucket")
            .annotate(**aggregates)
            .order_by()
        )
        values = {k: [0] * len(index) for k in aggregates}
        for row in rows:
            i = index.get(_as_date(row["bucket"]))
            if i is None:
                continue
            for k in aggregates:
                values[k][i] += row[k]
        series = [
            Series(f"{kw.term} (competitor)" if kw.is_competitor else kw.term, values[f"k{i}"])
            for i, kw in enumerate(keywords)
        ]
    return Chart(
        kind="stacked",
        title="Share of voice",
        categories=_labels(rng),
        tick_labels=_ticks(rng),
        series=series,
        value_label="Mentions",
        category_label=_category_label(rng),
    )


def share_of_voice_totals(chart: Chart) -> list[tuple[str, int, float]]:
    """(keyword, mentions, share) over the whole range, largest first."""
    totals = [(s.name, int(sum(s.values))) for s in chart.series]
    grand = sum(n for _, n in totals) or 1
    return sorted(((name, n, n / grand) for name, n in totals), key=lambda t: -t[1])


@dataclass(frozen=True)
class Author:
    handle: str
    channel: str
    name: str
    mentions: int
    negative: int
    followers: int | None
    person_id: int | None
    person_public_id: str | None = None
    person_name: str = ""


def top_authors(rng: Range, *, limit: int = TOP_LIMIT, user=None) -> list[Author]:
    """The most active authors in the range, with the person they are matched to.

    With ``user``, only mentions that reader may see are counted (authors of mirrored
    records they may not see, e.g. a staff-only community space, are not named), and
    only persons that reader may see are named as matched."""
    from kith.listening import access
    from kith.people import access as people_access
    from kith.people.models import Party

    qs = mentions_in(rng) if user is None else access.scope_mentions(user, mentions_in(rng))
    rows = list(
        qs.exclude(author_handle="")
        .values("author_handle", "channel")
        .annotate(
            n=Count("id"),
            neg=Count("id", filter=Q(sentiment_label=Sentiment.NEGATIVE)),
            followers=Max("author_followers"),
            person_id=Max("person_id"),
            name=Max("author_name"),
        )
        .order_by("-n", "author_handle")[:limit]
    )
    people_qs = Party.objects.filter(pk__in=[r["person_id"] for r in rows if r["person_id"]])
    if user is not None:
        # A matched person the reader may not see is not named (nor linked): "not matched".
        people_qs = people_access.staff_scope(user, people_qs)
    people = {p.pk: p for p in people_qs}
    out = []
    for r in rows:
        person = people.get(r["person_id"])
        out.append(
            Author(
                handle=r["author_handle"],
                channel=r["channel"],
                name=r["name"] or "",
                mentions=r["n"],
                negative=r["neg"],
                followers=r["followers"],
                person_id=person.pk if person else None,
                person_public_id=str(person.public_id) if person else None,
                person_name=person.display_name if person else "",
            )
        )
    return out


def top_authors_chart(authors: list[Author]) -> Chart:
    return Chart(
        kind="hbar",
        title="Top authors",
        categories=[a.handle for a in authors],
        series=[Series("Mentions", [a.mentions for a in authors])],
        category_label="Author",
        value_label="Mentions",
    )


def top_authors_rows(authors: list[Author]) -> list[list[object]]:
    """The CSV of the top authors (more columns than the chart)."""
    rows: list[list[object]] = [
        ["Author", "Channel", "Name", "Mentions", "Negative", "Followers", "Matched person"]
    ]
    rows += [
        [a.handle, a.channel, a.name, a.mentions, a.negative, a.followers or "", a.person_name]
        for a in authors
    ]
    return rows


def top_topics(rng: Range, *, limit: int = TOP_LIMIT) -> Chart:
    """The topics mentioned most in the range."""
    rows = list(
        mentions_in(rng)
        .exclude(topic="")
        .values("topic")
        .annotate(n=Count("id"))
        .order_by("-n", "topic")[:limit]
    )
    return Chart(
        kind="hbar",
        title="Top topics",
        categories=[r["topic"] for r in rows],
        series=[Series("Mentions", [r["n"] for r in rows])],
        category_label="Topic",
        value_label="Mentions",
    )


def response_times(rng: Range) -> Chart:
    """Median and 90th-percentile first response (minutes) per bucket of arrival.

    Measured from when Kith received the mention (the earliest anyone could answer) to
    the first response (a reply marked, or a conversion); mentions dismissed or spam never
    had one and are not counted.
    """
    rows = (
        mentions_in(rng)
        .filter(responded_at__isnull=False)
        .annotate(bucket=_bucket_expr(rng))
        .values_list("bucket", "received_at", "responded_at")
        .order_by()
    )
    index = {d: i for i, d in enumerate(rng.buckets())}
    minutes: dict[int, list[float]] = defaultdict(list)
    for bucket, received, responded in rows.iterator(chunk_size=2000):
        i = index.get(_as_date(bucket))
        if i is not None:
            minutes[i].append(max(0.0, (responded - received).total_seconds() / 60))
    median = [
        round(statistics.median(minutes[i]), 1) if minutes[i] else 0.0 for i in index.values()
    ]
    p90 = [round(_percentile(minutes[i], 0.9), 1) if minutes[i] else 0.0 for i in index.values()]
    return Chart(
        kind="line",
        title="First response time",
        categories=_labels(rng),
        tick_labels=_ticks(rng),
        series=[Series("Median (minutes)", median), Series("90th percentile (minutes)", p90)],
        value_label="Minutes",
        category_label=_category_label(rng),
    )


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value at least ``q`` of the observations do not exceed)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[k]


def summary(rng: Range) -> dict[str, int]:
    """Headline counts for the range: mentions, negative, open, answered, matched to a person."""
    qs = mentions_in(rng)
    return qs.aggregate(
        total=Count("id"),
        negative=Count("id", filter=Q(sentiment_label=Sentiment.NEGATIVE)),
        open=Count("id", filter=Q(status__in=[MentionStatus.NEW, MentionStatus.ASSIGNED])),
        answered=Count("id", filter=Q(responded_at__isnull=False)),
        matched=Count("id", filter=Q(person__isnull=False)),
    )


CHARTS = {
    "volume": volume,
    "negative-share": negative_share,
    "share-of-voice": share_of_voice,
    "top-topics": top_topics,
    "response-times": response_times,
}


def chart_by_name(name: str, rng: Range, *, user=None) -> Chart | list[list[object]] | None:
    """A chart (or, for top authors, its rows) by its CSV name; None when unknown."""
    if name == "top-authors":
        return top_authors_rows(top_authors(rng, user=user))
    builder = CHARTS.get(name)
    return builder(rng) if builder else None
