"""Listening dashboards: the counts behind each chart, the range parsing, the CSV."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from kith.core.errors import ValidationFailed
from kith.listening import dashboards
from kith.listening.models import Keyword, Mention, Source
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
UTC = dt.UTC


def source(name="Feed", kind="feed") -> Source:
    return Source.objects.create(kind=kind, name=name)


def mention(src: Source, when: dt.datetime, **fields) -> Mention:
    fields.setdefault("text", "hello")
    fields.setdefault("channel", "rss")
    fields.setdefault("received_at", when)
    return Mention.objects.create(
        source=src, external_id=f"m{next(_ids)}", published_at=when, **fields
    )


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def utc():
    with timezone.override(dt.UTC):
        yield


def rng(first=1, last=5, src=None) -> dashboards.Range:
    return dashboards.Range(dt.date(2026, 11, first), dt.date(2026, 11, last), src)


def test_volume_counts_each_day_by_sentiment_and_leaves_out_spam_and_other_ranges(utc):
    src = source()
    mention(src, at(1), sentiment_label="negative")
    mention(src, at(1, 23), sentiment_label="negative")
    mention(src, at(1), sentiment_label="positive")
    mention(src, at(3), sentiment_label="neutral")
    mention(src, at(3), sentiment_label="negative", status="spam")
    mention(src, at(6), sentiment_label="negative")  # after the range
    chart = dashboards.volume(rng())
    assert chart.categories == [f"2026-11-0{d}" for d in range(1, 6)]
    by_name = {s.name: list(s.values) for s in chart.series}
    assert by_name == {
        "Negative": [2, 0, 0, 0, 0],
        "Neutral": [0, 0, 1, 0, 0],
        "Positive": [1, 0, 0, 0, 0],
    }
    share = dashboards.negative_share(rng())
    assert list(share.series[0].values)[:3] == [pytest.approx(2 / 3, abs=1e-3), 0.0, 0.0]


def test_days_are_the_users_days():
    src = source()
    # 23:30 UTC on the 1st is already the 2nd in Berlin (UTC+1 in November).
    mention(src, dt.datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
    with timezone.override(dt.timezone(dt.timedelta(hours=1))):
        chart = dashboards.volume(rng(1, 3))
    assert [sum(s.values[i] for s in chart.series) for i in range(3)] == [0, 1, 0]


def test_a_source_filter_counts_only_that_source(utc):
    a, b = source("A"), source("B")
    mention(a, at(2))
    mention(b, at(2))
    mention(b, at(2))
    total = lambda r: sum(sum(s.values) for s in dashboards.volume(r).series)  # noqa: E731
    assert total(rng()) == 3
    assert total(rng(src=b)) == 2


def test_share_of_voice_counts_mentions_per_keyword_including_competitors(utc):
    src = source()
    Keyword.objects.create(term="Acme", normalized="acme")
    Keyword.objects.create(term="Globex", normalized="globex", is_competitor=True)
    Keyword.objects.create(term="Acme Cloud", normalized="acme cloud")
    Keyword.objects.create(term="Old", normalized="old", active=False)
    mention(src, at(1), keywords=["acme"])
    mention(src, at(1), keywords=["acme", "globex"])
    mention(src, at(2), keywords=["acme cloud"])  # not "acme": whole elements only
    mention(src, at(2), keywords=["globex"])
    mention(src, at(2), keywords=["old"])
    mention(src, at(2), keywords=[])
    chart = dashboards.share_of_voice(rng())
    by_name = {s.name: list(s.values)[:2] for s in chart.series}
    assert by_name == {"Acme": [2, 0], "Acme Cloud": [0, 1], "Globex (competitor)": [1, 1]}
    totals = dashboards.share_of_voice_totals(chart)
    assert totals[0] == ("Acme", 2, pytest.approx(2 / 5))


def test_top_authors_rank_by_mentions_and_show_the_matched_person(utc, alice):
    src = source()
    ana = make_person(alice, given="Ana", family="Lima")
    for _ in range(3):
        mention(
            src, at(2), author_handle="@ana@example.social", person=ana, sentiment_label="negative"
        )
    mention(src, at(2), author_handle="@bo@example.social", author_followers=50)
    mention(src, at(2), author_handle="@bo@example.social", author_followers=70)
    mention(src, at(2), author_handle="")  # anonymous: not an author
    authors = dashboards.top_authors(rng())
    assert [(a.handle, a.mentions) for a in authors] == [
        ("@ana@example.social", 3),
        ("@bo@example.social", 2),
    ]
    assert authors[0].person_public_id == str(ana.public_id)
    assert authors[0].negative == 3
    assert authors[1].person_id is None and authors[1].followers == 70
    rows = dashboards.top_authors_rows(authors)
    assert rows[1][-1] == ana.display_name


def test_top_topics(utc):
    src = source()
    for topic, n in (("billing", 3), ("outage", 1), ("", 5)):
        for _ in range(n):
            mention(src, at(2), topic=topic)
    chart = dashboards.top_topics(rng())
    assert list(chart.categories) == ["billing", "outage"]
    assert list(chart.series[0].values) == [3, 1]


def test_response_times_median_and_p90_in_minutes(utc):
    src = source()
    for minutes in (10, 20, 30, 40, 100):
        mention(src, at(2), responded_at=at(2) + dt.timedelta(minutes=minutes))
    mention(src, at(2))  # never answered: not counted
    chart = dashboards.response_times(rng())
    median, p90 = (list(s.values) for s in chart.series)
    assert median[1] == 30 and p90[1] == 100
    assert median[0] == 0


def test_long_ranges_are_weekly():
    r = dashboards.Range(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert r.weekly
    buckets = r.buckets()
    assert all(b.weekday() == 0 for b in buckets)
    assert buckets[0] <= r.first < buckets[0] + dt.timedelta(days=7)


def test_weekly_buckets_count(utc):
    src = source()
    mention(src, dt.datetime(2026, 3, 4, tzinfo=UTC))  # a Wednesday
    mention(src, dt.datetime(2026, 3, 8, tzinfo=UTC))  # the Sunday of the same week
    chart = dashboards.volume(dashboards.Range(dt.date(2026, 1, 1), dt.date(2026, 6, 30)))
    week = chart.categories.index("2026-03-02")
    assert sum(s.values[week] for s in chart.series) == 2


def test_parse_range_defaults_and_errors_name_the_field():
    r = dashboards.parse_range("", "")
    assert r.last == timezone.localdate()
    assert (r.last - r.first).days == dashboards.DEFAULT_DAYS - 1
    with pytest.raises(ValidationFailed) as exc:
        dashboards.parse_range("2026-13-01", "")
    assert [e.field for e in exc.value.errors] == ["from"]
    with pytest.raises(ValidationFailed) as exc:
        dashboards.parse_range("2026-11-05", "2026-11-01")
    assert [e.field for e in exc.value.errors] == ["from"]
    with pytest.raises(ValidationFailed) as exc:
        dashboards.parse_range("", "yesterday")
    assert [e.field for e in exc.value.errors] == ["to"]
    with pytest.raises(ValidationFailed) as exc:
        dashboards.parse_range("", "", "not-a-uuid")
    assert [e.field for e in exc.value.errors] == ["source"]
    with pytest.raises(ValidationFailed):
        dashboards.parse_range("2020-01-01", "2026-01-01")


def test_summary_counts(utc, alice):
    src = source()
    ana = make_person(alice, given="Ana", family="Lima")
    mention(src, at(2), sentiment_label="negative", person=ana)
    mention(src, at(2), status="replied", responded_at=at(3))
    mention(src, at(2), status="spam")
    assert dashboards.summary(rng()) == {
        "total": 2,
        "negative": 1,
        "open": 1,
        "answered": 1,
        "matched": 1,
    }
