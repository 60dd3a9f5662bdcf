"""Spike alerts: detection against the same hour of the trailing week, followers told once."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from kith.collab import services as collab_services
from kith.collab.models import Notification
from kith.listening import alerts
from kith.listening.alerts import Thresholds, Window, detect
from kith.listening.models import Keyword, Mention, Source, SpikeAlert

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
NOW = dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.UTC)  # checks the hour 09:00–10:00
HOUR_START = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
TH = Thresholds(k=3.0, min_count=5, min_share_lift=0.2)


def add(src: Source, when: dt.datetime, n: int, **fields) -> None:
    Mention.objects.bulk_create(
        Mention(
            source=src,
            external_id=f"a{next(_ids)}",
            channel="rss",
            text="x",
            published_at=when,
            received_at=when,
            **fields,
        )
        for _ in range(n)
    )


def baseline(src: Source, per_hour=(2, 3, 2, 4, 3, 2, 3), **fields) -> None:
    for day, n in enumerate(per_hour, start=1):
        add(
            src,
            HOUR_START - dt.timedelta(days=day) + dt.timedelta(minutes=30),
            n,
            **fields,
        )


# ------------------------------------------------------------------ the pure rule
def test_volume_spike_needs_the_minimum_and_k_sd_above_the_mean():
    base = [Window(n, 0) for n in (2, 3, 2, 4, 3, 2, 3)]
    assert [s.metric for s in detect(Window(20, 0), base, TH)] == ["volume"]
    assert detect(Window(4, 0), [Window(0, 0)] * 7, TH) == []  # under the minimum
    # mean 2.71, sd 0.70: k = 3 puts the bar at 4.81, k = 4 at 5.51.
    assert len(detect(Window(5, 0), base, TH)) == 1
    assert detect(Window(5, 0), base, Thresholds(k=4.0, min_count=5)) == []
    spike = detect(Window(6, 0), base, TH)[0]
    assert spike.threshold == pytest.approx(2.714 + 3 * 0.6999, abs=0.01)


def test_negative_share_spike_needs_a_real_lift():
    calm = [Window(10, 1)] * 7  # 10 % negative, sd 0
    assert detect(Window(10, 2), calm, TH) == []  # 20 %: above mean + 3·0 but under +0.2
    spikes = detect(Window(10, 4), calm, TH)  # 40 %
    assert [s.metric for s in spikes] == ["negative_share"]
    assert spikes[0].observed == pytest.approx(0.4)
    # Hours without mentions have no share: they do not drag the mean down.
    assert detect(Window(10, 2), [Window(0, 0)] * 6 + [Window(10, 1)], TH) == []


# ------------------------------------------------------------------ the job
@pytest.fixture
def world(alice, bob, mia, vic):
    src = Source.objects.create(kind="feed", name="Acme forum", owner=mia)
    src.followers.add(bob)
    kw = Keyword.objects.create(term="Acme", normalized="acme")
    kw.followers.add(vic)
    other = Source.objects.create(kind="feed", name="Quiet feed")
    return {"src": src, "kw": kw, "other": other}


def notes(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("id"))


def test_a_volume_spike_notifies_source_followers_and_owner_once(world, alice, bob, mia, vic):
    src = world["src"]
    baseline(src)
    add(world["other"], HOUR_START + dt.timedelta(minutes=5), 3)
    add(src, HOUR_START + dt.timedelta(minutes=10), 20)
    assert alerts.check_spikes(now=NOW, thresholds=TH) == 1
    alert = SpikeAlert.objects.get()
    assert (alert.source, alert.metric, alert.window_start) == (
        src,
        "volume",
        HOUR_START,
    )
    assert alert.count == 20 and alert.notified == 2
    for user in (bob, mia):
        (note,) = notes(user)
        assert "Volume spike on Acme forum (source): 20 mentions" in note.text
        assert note.url.startswith("/listening/dashboards/?")
        assert str(src.public_id) in note.url
    assert notes(vic) == [] and notes(alice) == []

    # The same check again (another worker, or the next run in the same hour): nothing new.
    assert alerts.check_spikes(now=NOW + dt.timedelta(minutes=10), thresholds=TH) == 0
    # The spike goes on in the next hour: the alert is extended, nobody is told again.
    add(src, HOUR_START + dt.timedelta(hours=1, minutes=10), 25)
    assert alerts.check_spikes(now=NOW + dt.timedelta(hours=1), thresholds=TH) == 0
    alert.refresh_from_db()
    assert alert.last_window_start == HOUR_START + dt.timedelta(hours=1)
    assert len(notes(bob)) == 1
    # A calm hour, then a new spike: that is news again.
    add(src, HOUR_START + dt.timedelta(hours=3, minutes=10), 25)
    assert alerts.check_spikes(now=NOW + dt.timedelta(hours=3), thresholds=TH) == 1
    assert len(notes(bob)) == 2


def test_a_negative_share_spike_on_a_keyword_notifies_its_followers(world, bob, vic):
    src, kw = world["src"], world["kw"]
    # A steady hour: 10 mentions of acme, 1 negative, every day.
    for day in range(1, 8):
        when = HOUR_START - dt.timedelta(days=day) + dt.timedelta(minutes=20)
        add(src, when, 9, keywords=["acme"])
        add(src, when, 1, keywords=["acme"], sentiment_label="negative")
    add(src, HOUR_START + dt.timedelta(minutes=20), 4, keywords=["acme"])
    add(
        src,
        HOUR_START + dt.timedelta(minutes=20),
        6,
        keywords=["acme"],
        sentiment_label="negative",
    )
    assert alerts.check_spikes(now=NOW, thresholds=TH) >= 1
    alert = SpikeAlert.objects.get(keyword=kw)
    assert alert.metric == "negative_share" and alert.observed == pytest.approx(0.6)
    (note,) = notes(vic)
    assert "Negative share spike on Acme (keyword): 60% of 10 mentions" in note.text


def test_collab_followers_are_told_and_spam_does_not_count(world, alice, dan):
    src = world["src"]
    collab_services.follow(actor=dan, target=src)
    add(src, HOUR_START + dt.timedelta(minutes=10), 20, status="spam")
    assert alerts.check_spikes(now=NOW, thresholds=TH) == 0
    add(src, HOUR_START + dt.timedelta(minutes=10), 20)
    assert alerts.check_spikes(now=NOW, thresholds=TH) == 1
    assert len(notes(dan)) == 1


def test_a_paused_source_is_not_checked(world):
    src = world["src"]
    src.enabled = False
    src.save()
    add(src, HOUR_START + dt.timedelta(minutes=10), 50)
    assert alerts.check_spikes(now=NOW, thresholds=TH) == 0
