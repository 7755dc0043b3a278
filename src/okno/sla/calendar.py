"""Business time: a team's weekly opening intervals in its own time zone, minus holidays.

Intervals belong to the local date they start on; an interval whose end is not after its start
runs overnight into the next day (22:00–06:00). Boundaries are turned into UTC per date, so a
DST change shifts them correctly and durations are real elapsed time. Used for SLA deadlines
(``add``) and for measuring business-time durations (``between``) exactly as docs/design.md defines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]

MAX_SEARCH_DAYS = 3 * 366  # a calendar with no open time in three years is a configuration error


class ClosedCalendar(ValueError):
    pass


@dataclass(frozen=True)
class BusinessCalendar:
    tz: ZoneInfo
    weekly: dict[int, tuple[Interval, ...]]  # weekday (0 = Monday) → opening intervals
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def weekdays(cls, start: time, end: time, tz: str, holidays: frozenset[date] = frozenset()) -> BusinessCalendar:
        return cls(ZoneInfo(tz), {d: ((start, end),) for d in range(5)}, holidays)

    def open_periods(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods (UTC) in order, clipped to start no earlier than ``since``."""
        since = since.astimezone(UTC)
        day = since.astimezone(self.tz).date() - timedelta(days=1)  # yesterday's overnight shift
        covered = since  # periods that overlap (an overnight shift running into the morning) merge
        for _ in range(MAX_SEARCH_DAYS):
            for opens, closes in self._periods_on(day):
                if closes > covered:
                    yield max(opens, covered), closes
                    covered = closes
            day += timedelta(days=1)
        raise ClosedCalendar("the calendar has no open time within three years")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of business time after ``start`` has passed."""
        if duration <= timedelta(0):
            return start.astimezone(UTC)
        remaining = duration
        for opens, closes in self.open_periods(start):
            if opens + remaining <= closes:
                return opens + remaining
            remaining -= closes - opens
        raise AssertionError("unreachable")  # open_periods raises first

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (zero if ``end`` is not after ``start``)."""
        total = timedelta(0)
        end = end.astimezone(UTC)
        if end <= start:
            return total
        for opens, closes in self.open_periods(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total

    def is_open(self, at: datetime) -> bool:
        opens, _ = next(self.open_periods(at))
        return opens <= at.astimezone(UTC)

    def _periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        periods = []
        for start, end in self.weekly.get(day.weekday(), ()):
            end_day = day if end > start else day + timedelta(days=1)
            opens = datetime.combine(day, start, self.tz).astimezone(UTC)
            closes = datetime.combine(end_day, end, self.tz).astimezone(UTC)
            if closes > opens:
                periods.append((opens, closes))
        return sorted(periods)
