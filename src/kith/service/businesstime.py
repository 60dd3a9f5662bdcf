"""Business-time arithmetic: how much working time lies between two instants, and when
a given amount of working time has elapsed.

A calendar is a time zone, weekly working hours (a list of ``(start, end)`` wall-clock
times per weekday, Monday = 0) and holidays (local dates). Rules, chosen so the maths
stays simple and predictable:

* an interval belongs to the local date it *starts* on; ``end <= start`` means it runs
  past midnight into the next day (a night shift, ``22:00–06:00``);
* a holiday removes every interval that starts on that date (a night shift starting
  the evening before a holiday still runs into the holiday morning);
* wall-clock times are turned into instants with ``zoneinfo`` and all sums are done
  on UTC instants, so a shift across a DST change lasts its real length (a 22:00–06:00
  shift is 7 h on the spring-forward night and 9 h on the fall-back one). A start time
  that does not exist (inside the spring-forward gap) is taken as the earlier offset,
  i.e. it lands at the first valid instant after the gap.

Everything is in seconds internally; SLA targets are given in minutes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kith.core import timezones

UTC = dt.UTC
# How far ``add`` will search for working time before giving up (a calendar with
# holidays every day would otherwise loop forever).
MAX_SCAN_DAYS = 3 * 366


class NoWorkingTime(ValueError):
    """The calendar has no working time in the searched range."""


def parse_hhmm(value: str) -> dt.time:
    """``"09:30"`` → ``time(9, 30)``; ``"24:00"`` is accepted as the end of the day."""
    text = str(value).strip()
    if text == "24:00":
        return dt.time(0, 0)
    try:
        hours, minutes = text.split(":")
        return dt.time(int(hours), int(minutes))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a time as HH:MM.") from exc


@dataclass(frozen=True)
class Schedule:
    """A calendar in memory: what the arithmetic needs, nothing from the database."""

    tz: dt.tzinfo
    # weekday (0 = Monday) → list of (start, end) wall-clock times
    weekly: dict[int, list[tuple[dt.time, dt.time]]]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    # Working seconds of the intervals starting on each local date, filled on demand:
    # long spans (an overdue case's "time over") sum days instead of walking intervals.
    _day_totals: dict[dt.date, float] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    # Running sums of the day totals from a base day (``_cum_base[0]``), so a span of any
    # length costs two lookups once the sums reach it.
    _cum: list[float] = field(default_factory=lambda: [0.0], compare=False, repr=False)
    _cum_base: list[int] = field(default_factory=list, compare=False, repr=False)
    # Schedules are cached per process and shared by request threads: extend the sums
    # under a lock so two threads never append out of order.
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        weekly_hours: dict,
        holidays: Iterable[dt.date] = (),
    ) -> Schedule:
        """From the stored form: ``{"0": [["09:00", "17:00"]], ...}``."""
        weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for day, spans in (weekly_hours or {}).items():
            parsed = [(parse_hhmm(a), parse_hhmm(b)) for a, b in spans]
            weekly[int(day)] = sorted(parsed)
        # A stored name that is no zone (written before the check) reads as UTC.
        return cls(timezones.zone(timezone), weekly, frozenset(holidays))

    @classmethod
    def always(cls) -> Schedule:
        """Around the clock, every day: business time equals elapsed time."""
        full = [(dt.time(0, 0), dt.time(0, 0))]
        return cls(UTC, dict.fromkeys(range(7), full))

    def is_always(self) -> bool:
        return not self.holidays and all(
            self.weekly.get(d) == [(dt.time(0, 0), dt.time(0, 0))] for d in range(7)
        )

    def has_hours(self) -> bool:
        return any(self.weekly.get(d) for d in range(7))

    # ------------------------------------------------------------ intervals

    def _day_intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.weekly.get(day.weekday(), []):
            local_start = dt.datetime.combine(day, start, tzinfo=self.tz)
            end_day = day if end > start else day + dt.timedelta(days=1)
            local_end = dt.datetime.combine(end_day, end, tzinfo=self.tz)
            a, b = _to_utc(local_start), _to_utc(local_end)
            if b > a:
                out.append((a, b))
        return out

    def intervals(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (UTC, merged, ascending) that end after ``start``, clipped to it.

        Unbounded; callers stop. Raises ``NoWorkingTime`` after ``MAX_SCAN_DAYS`` days
        without any working time.
        """
        start = _aware(start)
        local_day = start.astimezone(self.tz).date() - dt.timedelta(days=1)
        current: tuple[dt.datetime, dt.datetime] | None = None
        empty_days = 0
        while True:
            found = self._day_intervals(local_day)
            empty_days = 0 if found else empty_days + 1
            if empty_days > MAX_SCAN_DAYS:
                if current is not None:
                    yield current
                raise NoWorkingTime("No working time in the calendar within three years.")
            for a, b in found:
                if b <= start:
                    continue
                a = max(a, start)
                if current is None:
                    current = (a, b)
                elif a <= current[1]:
                    current = (current[0], max(current[1], b))
                else:
                    yield current
                    current = (a, b)
            local_day += dt.timedelta(days=1)
            # Every interval of later days starts after the next local midnight, so an
            # interval ending before it can be yielded now.
            if current is not None:
                horizon = _to_utc(dt.datetime.combine(local_day, dt.time(0), tzinfo=self.tz))
                if current[1] < horizon:
                    yield current
                    current = None

    def _no_cross_day_overlap(self) -> bool:
        """True when no night shift runs into the next day's first span (so days add up)."""
        for day in range(7):
            spans = self.weekly.get(day, [])
            if not spans or spans[-1][1] > spans[-1][0]:
                continue
            following = self.weekly.get((day + 1) % 7, [])
            if following and following[0][0] < spans[-1][1]:
                return False
        return True

    def _day_total(self, day: dt.date) -> float:
        total = self._day_totals.get(day)
        if total is None:
            total = sum((b - a).total_seconds() for a, b in self._day_intervals(day))
            self._day_totals[day] = total
        return total

    def _days_total(self, first: dt.date, last: dt.date) -> float:
        """Working seconds of the intervals starting on ``first``…``last`` (inclusive)."""
        if last < first:
            return 0.0
        with self._lock:
            if not self._cum_base:
                self._cum_base.append(first.toordinal() - 3660)  # ten years of history
        base = self._cum_base[0]
        if first.toordinal() < base or last.toordinal() - base > 40_000:
            total, day = 0.0, first
            while day <= last:
                total += self._day_total(day)
                day += dt.timedelta(days=1)
            return total
        cum = self._cum
        need = last.toordinal() - base + 1
        if len(cum) <= need:
            with self._lock:
                while len(cum) <= need:
                    day = dt.date.fromordinal(base + len(cum) - 1)
                    cum.append(cum[-1] + self._day_total(day))
        return cum[need] - cum[first.toordinal() - base]

    def _clipped(self, day: dt.date, start: dt.datetime, end: dt.datetime) -> float:
        total = 0.0
        for a, b in self._day_intervals(day):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    # ------------------------------------------------------------ arithmetic

    def seconds_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working seconds in ``[start, end)``; negative when ``end`` is before ``start``."""
        start, end = _aware(start), _aware(end)
        if end < start:
            return -self.seconds_between(end, start)
        if end == start:
            return 0.0
        if self.is_always():
            return (end - start).total_seconds()
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        if (last - first).days >= 4 and self._no_cross_day_overlap():
            # Intervals belong to the day they start on and last at most into the next,
            # so those starting strictly between first+1 and last-2 lie wholly inside.
            edges = [first - dt.timedelta(days=1), first, last - dt.timedelta(days=1), last]
            total = sum(self._clipped(day, start, end) for day in edges)
            return total + self._days_total(
                first + dt.timedelta(days=1), last - dt.timedelta(days=2)
            )
        total = 0.0
        try:
            for a, b in self.intervals(start):
                if a >= end:
                    break
                total += (min(b, end) - a).total_seconds()
        except NoWorkingTime:
            pass
        return total

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant when ``seconds`` of working time have passed after ``start``.

        With ``seconds == 0`` the answer is ``start`` itself (no rounding to the next
        opening), so a paused clock that paused for nothing moves nothing.
        """
        start = _aware(start)
        if seconds <= 0:
            return start
        if self.is_always():
            return start + dt.timedelta(seconds=seconds)
        if not self.has_hours():
            raise NoWorkingTime("The calendar has no working hours.")
        remaining = float(seconds)
        for a, b in self.intervals(start):
            length = (b - a).total_seconds()
            if remaining <= length:
                return a + dt.timedelta(seconds=remaining)
            remaining -= length
        raise NoWorkingTime("No working time in the calendar.")  # pragma: no cover

    def is_working(self, when: dt.datetime) -> bool:
        when = _aware(when)
        for a, _b in self.intervals(when):
            return a <= when
        return False  # pragma: no cover


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("Business-time arithmetic needs aware datetimes.")
    return value.astimezone(UTC)


def _to_utc(local: dt.datetime) -> dt.datetime:
    """Wall time → UTC. ``fold=0`` picks the earlier offset for ambiguous and gap times."""
    return local.astimezone(UTC)
