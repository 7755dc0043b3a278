from __future__ import annotations

from datetime import UTC, datetime, timedelta

# How far okno's clock runs ahead of the system clock. Always zero in service; tests of
# business-time behaviour (a message at 17:30 on a Friday…) move it with ``travel_to``.
_offset = timedelta(0)
# A stopped clock (the reports' ground-truth simulator: every stamp exactly the planned moment,
# however long a step takes on a loaded machine). Never set in service.
_frozen: datetime | None = None


def utcnow() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def stop_at(moment: datetime | None) -> None:
    """Make ``utcnow()`` read exactly ``moment`` until the next call; ``None`` lets it run again
    (from wherever ``travel_to`` last put it)."""
    global _frozen
    _frozen = None if moment is None else moment.astimezone(UTC)


def travel_to(moment: datetime) -> None:
    """Make ``utcnow()`` read ``moment`` now and keep running from there."""
    global _offset
    _offset = moment.astimezone(UTC) - datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes coming back from SQLite are UTC by our own convention."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
