from __future__ import annotations

from datetime import UTC, datetime, timedelta

# How far okno's clock runs ahead of the system clock. Always zero in service; tests of
# business-time behaviour (a message at 17:30 on a Friday…) move it with ``travel_to``.
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def travel_to(moment: datetime) -> None:
    """Make ``utcnow()`` read ``moment`` now and keep running from there."""
    global _offset
    _offset = moment.astimezone(UTC) - datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes coming back from SQLite are UTC by our own convention."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
