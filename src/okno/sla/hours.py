"""Business-hours calendars as admins write them, checked, and turned into ``BusinessCalendar``.

Written form: ``{"timezone": "Europe/Moscow", "weekly": {"mon": [["09:00", "18:00"]], …},
"holidays": ["2026-11-30"]}``. An interval whose end is not after its start runs overnight.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from okno.kit.errors import Invalid
from okno.models import BusinessHours
from okno.sla.calendar import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS_A_DAY = 6
MAX_HOLIDAYS = 1000
# no calendar at all: the clock runs around the clock, in UTC
ALWAYS_OPEN = BusinessCalendar(ZoneInfo("UTC"), {d: ((time(0), time(0)),) for d in range(7)})


def checked_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("unknown time zone %(name)r (use an IANA name such as Europe/Moscow)", name=name) from None
    return name


def checked_weekly(weekly: dict[str, Any]) -> dict[str, list[list[str]]]:
    unknown = sorted(set(weekly) - set(WEEKDAYS))
    if unknown:
        raise Invalid("weekly has unknown days %(unknown)s (use %(weekdays)s)", unknown=unknown, weekdays=', '.join(WEEKDAYS))
    clean: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        intervals = weekly.get(day) or []
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS_A_DAY:
            raise Invalid("weekly.%(day)s must be a list of at most %(num)s [start, end] pair", plural="weekly.%(day)s must be a list of at most %(num)s [start, end] pairs", day=day, num=MAX_INTERVALS_A_DAY)
        parsed = [_interval(day, i, pair) for i, pair in enumerate(intervals)]
        _no_overlap(day, parsed)
        if parsed:
            clean[day] = [[start.strftime("%H:%M"), end.strftime("%H:%M")] for start, end in parsed]
    if not clean:
        raise Invalid("weekly has no opening hours at all: give at least one day an interval")
    return clean


def checked_holidays(holidays: list[Any]) -> list[str]:
    if len(holidays) > MAX_HOLIDAYS:
        raise Invalid("at most %(num)s holiday", plural="at most %(num)s holidays", num=MAX_HOLIDAYS)
    days: set[date] = set()
    for value in holidays:
        try:
            days.add(date.fromisoformat(str(value)))
        except ValueError:
            raise Invalid("holiday %(value)r is not a date like 2026-11-30", value=value) from None
    return [d.isoformat() for d in sorted(days)]


def business_calendar(hours: BusinessHours | None) -> BusinessCalendar:
    if hours is None:
        return ALWAYS_OPEN
    weekly = {
        WEEKDAYS.index(day): tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in intervals)
        for day, intervals in hours.weekly.items()
    }
    return BusinessCalendar(ZoneInfo(hours.timezone), weekly, frozenset(date.fromisoformat(d) for d in hours.holidays))


def _interval(day: str, index: int, pair: Any) -> tuple[time, time]:
    where = f"weekly.{day}[{index}]"
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise Invalid('%(where)s must be a [start, end] pair like ["09:00", "18:00"]', where=where)
    try:
        start, end = (time.fromisoformat(str(v)) for v in pair)
    except ValueError:
        raise Invalid("%(where)s has a time that is not HH:MM: %(pair)r", where=where, pair=pair) from None
    if start == end and start != time(0):
        raise Invalid("%(where)s is empty: start and end are both %(start)s", where=where, start=format(start, '%H:%M'))
    return start, end


def _no_overlap(day: str, intervals: list[tuple[time, time]]) -> None:
    same_day = sorted((s, e) for s, e in intervals if e > s)
    for (_, end), (start, _) in zip(same_day, same_day[1:], strict=False):
        if start < end:
            raise Invalid("weekly.%(day)s has overlapping intervals around %(start)s", day=day, start=format(start, '%H:%M'))
