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
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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
        return cls(zoneinfo.ZoneInfo(timezone), weekly, frozenset(holidays))

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
