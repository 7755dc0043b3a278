"""Report periods: the ``from``/``to`` query parameters checked, and buckets for time series."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from okno.kit.errors import Invalid

INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
MAX_BUCKETS = 744  # a month of hours, or fourteen years of weeks
MAX_DAYS = 3 * 366


def checked_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("from and to need a time zone, e.g. 2026-12-01T00:00:00Z")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise Invalid("to must be after from")
    if end - start > timedelta(days=MAX_DAYS):
        raise Invalid("a period is at most %(num)s day", plural="a period is at most %(num)s days", num=MAX_DAYS)
    return start, end


def buckets(start: datetime, end: datetime, interval: str) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive ``[a, b)`` buckets from ``start`` (days and weeks begin at ``start``'s time of day)."""
    step = INTERVALS.get(interval)
    if step is None:
        raise Invalid("interval must be one of %(intervals)s", intervals=', '.join(INTERVALS))
    if (end - start) / step > MAX_BUCKETS:
        raise Invalid("at most %(num)s point: choose a longer interval or a shorter period", plural="at most %(num)s points: choose a longer interval or a shorter period", num=MAX_BUCKETS)
    at = start
    while at < end:
        upto = end if end - at <= step else at + step  # never past ``end`` (nor past the last year a datetime holds)
        yield at, upto
        at = upto
