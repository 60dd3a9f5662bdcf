"""Business-time arithmetic: weekends, holidays, overnight shifts, DST (zoneinfo)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kith.service.businesstime import NoWorkingTime, Schedule

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NY = zoneinfo.ZoneInfo("America/New_York")
WEEKDAYS_9_17 = {str(d): [["09:00", "17:00"]] for d in range(5)}


def berlin(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def office(holidays=()) -> Schedule:
    return Schedule.build(timezone="Europe/Berlin", weekly_hours=WEEKDAYS_9_17, holidays=holidays)


H = 3600


def test_within_one_day():
    s = office()
    # Wednesday 2026-01-07
    assert s.seconds_between(berlin(2026, 1, 7, 10), berlin(2026, 1, 7, 12, 30)) == 2.5 * H
    assert s.add(berlin(2026, 1, 7, 10), 2 * H) == berlin(2026, 1, 7, 12)


def test_before_opening_starts_at_opening():
    s = office()
    assert s.add(berlin(2026, 1, 7, 6), 60) == berlin(2026, 1, 7, 9, 1)
    assert s.seconds_between(berlin(2026, 1, 7, 6), berlin(2026, 1, 7, 9, 30)) == 30 * 60


def test_rolls_over_the_night_and_the_weekend():
    s = office()
    # Friday 2026-01-09 16:00 + 2 business hours → Monday 10:00
    assert s.add(berlin(2026, 1, 9, 16), 2 * H) == berlin(2026, 1, 12, 10)
    assert s.seconds_between(berlin(2026, 1, 9, 16), berlin(2026, 1, 12, 10)) == 2 * H
    # Saturday counts nothing
    assert s.seconds_between(berlin(2026, 1, 10, 8), berlin(2026, 1, 11, 20)) == 0


def test_holidays_are_skipped():
    s = office(holidays=[dt.date(2026, 1, 12)])  # Monday off
    assert s.add(berlin(2026, 1, 9, 16), 2 * H) == berlin(2026, 1, 13, 10)
    assert s.seconds_between(berlin(2026, 1, 9, 16), berlin(2026, 1, 13, 10)) == 2 * H


def test_exact_interval_end_and_zero():
    s = office()
    assert s.add(berlin(2026, 1, 7, 9), 8 * H) == berlin(2026, 1, 7, 17)
    assert s.add(berlin(2026, 1, 7, 20), 0) == berlin(2026, 1, 7, 20)
    assert s.seconds_between(berlin(2026, 1, 7, 12), berlin(2026, 1, 7, 11)) == -H


def test_overnight_shift_belongs_to_its_start_day():
    # Night desk Mon–Fri 22:00–06:00.
    s = Schedule.build(
        timezone="Europe/Berlin", weekly_hours={str(d): [["22:00", "06:00"]] for d in range(5)}
    )
    # Friday 23:00 + 3h → Saturday 02:00 (Friday's shift runs into Saturday)
    assert s.add(berlin(2026, 1, 9, 23), 3 * H) == berlin(2026, 1, 10, 2)
    # Saturday 05:00 + 2h: 1h left of Friday's shift, then Monday 22:00 + 1h
    assert s.add(berlin(2026, 1, 10, 5), 2 * H) == berlin(2026, 1, 12, 23)
    # Monday 23:00 to Tuesday 01:00 is 2h across midnight
    assert s.seconds_between(berlin(2026, 1, 12, 23), berlin(2026, 1, 13, 1)) == 2 * H


def test_holiday_removes_the_shift_starting_that_day_only():
    s = Schedule.build(
        timezone="Europe/Berlin",
        weekly_hours={str(d): [["22:00", "06:00"]] for d in range(7)},
        holidays=[dt.date(2026, 1, 7)],
    )
    # Tue 22:00 shift runs into Wed morning; Wed 22:00 shift is off; Thu 22:00 is on.
    assert s.seconds_between(berlin(2026, 1, 6, 22), berlin(2026, 1, 8, 23)) == 8 * H + H


def test_split_shifts_in_a_day():
    s = Schedule.build(timezone="UTC", weekly_hours={"0": [["08:00", "12:00"], ["13:00", "17:00"]]})
    monday = dt.datetime(2026, 1, 5, 11, tzinfo=UTC)
    assert s.add(monday, 2 * H) == dt.datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_dst_spring_forward_overnight_shift_is_shorter():
    # Europe/Berlin springs forward 2026-03-29 02:00 → 03:00 (a Sunday night shift).
    s = Schedule.build(timezone="Europe/Berlin", weekly_hours={"5": [["22:00", "06:00"]]})
    start = berlin(2026, 3, 28, 22)  # Saturday
    end = berlin(2026, 3, 29, 6)
    assert s.seconds_between(start, end) == 7 * H
    assert s.add(start, 7 * H) == end


def test_dst_fall_back_overnight_shift_is_longer():
    # Europe/Berlin falls back 2026-10-25 03:00 → 02:00.
    s = Schedule.build(timezone="Europe/Berlin", weekly_hours={"5": [["22:00", "06:00"]]})
    start = berlin(2026, 10, 24, 22)
    assert s.seconds_between(start, berlin(2026, 10, 25, 6)) == 9 * H


def test_dst_daytime_hours_keep_wall_clock():
    # New York springs forward 2026-03-08; Monday 09:00 EDT is 13:00 UTC, Friday 09:00 EST 14:00 UTC.
    s = Schedule.build(timezone="America/New_York", weekly_hours=WEEKDAYS_9_17)
    friday = dt.datetime(2026, 3, 6, 16, 0, tzinfo=NY)
    due = s.add(friday, 2 * H)
    assert due == dt.datetime(2026, 3, 9, 10, 0, tzinfo=NY)
    assert due.astimezone(UTC) == dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_always_is_wall_time():
    s = Schedule.always()
    start = dt.datetime(2026, 3, 28, 22, tzinfo=UTC)
    assert s.add(start, 10 * H) == start + dt.timedelta(hours=10)
    assert s.seconds_between(start, start + dt.timedelta(days=2)) == 48 * H


def test_no_hours_raises_and_naive_rejected():
    s = Schedule.build(timezone="UTC", weekly_hours={})
    with pytest.raises(NoWorkingTime):
        s.add(dt.datetime(2026, 1, 1, tzinfo=UTC), 60)
    assert (
        s.seconds_between(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC))
        == 0
    )
    with pytest.raises(ValueError):
        office().add(dt.datetime(2026, 1, 1), 60)


def test_24_hour_days_merge_across_midnight():
    s = Schedule.build(
        timezone="Europe/Berlin",
        weekly_hours={"0": [["00:00", "24:00"]], "1": [["00:00", "12:00"]]},
    )
    monday = berlin(2026, 1, 5, 20)
    assert s.add(monday, 10 * H) == berlin(2026, 1, 6, 6)


@settings(max_examples=60, deadline=None)
@given(
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 60),
    amount=st.integers(min_value=1, max_value=60 * 24 * 5),
)
def test_add_and_between_agree(start_minutes, amount):
    """For any start and amount, the business time from start to add(start, x) is x."""
    s = Schedule.build(
        timezone="America/New_York",
        weekly_hours={**WEEKDAYS_9_17, "5": [["22:00", "04:00"]]},
        holidays=[dt.date(2026, 3, 9), dt.date(2026, 4, 3)],
    )
    start = dt.datetime(2026, 2, 20, tzinfo=UTC) + dt.timedelta(minutes=start_minutes)
    due = s.add(start, amount * 60)
    assert due > start
    assert s.seconds_between(start, due) == pytest.approx(amount * 60)


@settings(max_examples=40, deadline=None)
@given(
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    span_minutes=st.integers(min_value=0, max_value=60 * 24 * 200),
    night=st.booleans(),
)
def test_long_spans_sum_days_like_the_walk(start_minutes, span_minutes, night):
    """The day-summing fast path equals walking the intervals one by one."""
    hours = {**WEEKDAYS_9_17, "5": [["22:00", "04:00"]]} if night else WEEKDAYS_9_17
    s = Schedule.build(
        timezone="Europe/Berlin",
        weekly_hours=hours,
        holidays=[dt.date(2026, 3, 30), dt.date(2026, 12, 25)],
    )
    start = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=start_minutes)
    end = start + dt.timedelta(minutes=span_minutes)
    walked = 0.0
    for a, b in s.intervals(start):
        if a >= end:
            break
        walked += (min(b, end) - a).total_seconds()
    assert s.seconds_between(start, end) == pytest.approx(walked)
