"""Datetimes are stored as UTC and come back UTC-aware on both backends; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import StatementError

from okno.models import OutboxEvent

MOSCOW = timezone(timedelta(hours=3))


async def test_aware_datetimes_round_trip_as_utc_and_naive_ones_are_refused(ctx) -> None:  # noqa: ANN001
    table = OutboxEvent.__table__
    moments = [datetime(2026, 11, 24, 12, 5, 7, 123456, tzinfo=MOSCOW), datetime(2026, 11, 24, 9, 5, 7, tzinfo=UTC)]
    async with ctx.db.transaction() as session:
        await session.execute(insert(table), [{"topic": f"t{i}", "payload": {}, "created_at": m} for i, m in enumerate(moments)])
    async with ctx.db.reading() as session:
        back = (await session.execute(select(table.c.created_at).order_by(table.c.topic))).scalars().all()
        if ctx.db.is_sqlite:  # the same text SQLAlchemy's DATETIME writes: text order is time order
            stored = (await session.execute(text("SELECT created_at FROM outbox ORDER BY topic"))).scalars().all()
            assert stored == ["2026-11-24 09:05:07.123456", "2026-11-24 09:05:07.000000"]
    assert back == moments and all(b.tzinfo is UTC for b in back)
    with pytest.raises(StatementError, match="naive datetime"):
        async with ctx.db.transaction() as session:
            await session.execute(insert(table), [{"topic": "naive", "payload": {}, "created_at": datetime(2026, 11, 24, 9, 5)}])


async def test_the_remembered_utc_text_is_the_instant_even_across_a_fold(ctx) -> None:  # noqa: ANN001
    """Two Berlin wall-clock times that differ only in ``fold`` compare equal in Python but are an
    hour apart: each is stored as its own UTC instant (the UTC text cache never sees them)."""
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    first, second = (datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=fold) for fold in (0, 1))
    assert first == second and first.astimezone(UTC) != second.astimezone(UTC)
    table = OutboxEvent.__table__
    async with ctx.db.transaction() as session:
        for topic, moment in (("a", first), ("b", second), ("c", first.astimezone(UTC)), ("d", second.astimezone(UTC))):
            await session.execute(insert(table), [{"topic": topic, "payload": {}, "created_at": moment}])
    async with ctx.db.reading() as session:
        back = (await session.execute(select(table.c.created_at).order_by(table.c.topic))).scalars().all()
    assert back == [first.astimezone(UTC), second.astimezone(UTC), first.astimezone(UTC), second.astimezone(UTC)]
