"""``okno.kit.bulk.driver_sql`` gives what ``exec_driver_sql`` gives, on both backends: the same
rows and row counts, the same ``before_cursor_execute`` listeners called, driver errors raised as
SQLAlchemy's own, the transaction's writes kept or rolled back with it. On okno's SQLite driver it
skips SQLAlchemy's per-statement machinery (``kit.sqlite_driver.execute_in_place``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from okno.kit.bulk import driver_connection, driver_sql
from okno.models import OutboxEvent


async def test_rows_and_row_counts_are_the_drivers(ctx) -> None:  # noqa: ANN001
    if not ctx.db.is_sqlite:
        pytest.skip("the statements below are SQLite's (placeholders ?)")
    now = "2026-12-07 09:00:00.000000"
    async with ctx.db.transaction() as session:
        inserted = await driver_sql(session, "INSERT INTO outbox (topic, payload, created_at, attempts) VALUES (?, ?, ?, 0)", [("a", b"x", now), ("b", b"y", now)])
        assert inserted.rowcount == 2
        mine = await driver_sql(session, "SELECT topic FROM outbox WHERE topic IN (?, ?) ORDER BY topic", ("a", "b"))
        theirs = await (await driver_connection(session)).exec_driver_sql("SELECT topic FROM outbox WHERE topic IN (?, ?) ORDER BY topic", ("a", "b"))
        assert [tuple(r) for r in mine.all()] == [tuple(r) for r in theirs.all()] == [("a",), ("b",)]
        updated = await driver_sql(session, "UPDATE outbox SET attempts = 1 WHERE topic = ?", [("a",), ("zzz",)])
        assert updated.rowcount == 1  # an executemany's count: the rows it changed
        returned = await driver_sql(session, "INSERT INTO outbox (topic, payload, created_at, attempts) VALUES (?, ?, ?, 0) RETURNING topic", ("c", b"z", now))
        assert [tuple(r) for r in returned] == [("c",)]


async def test_listeners_see_every_statement(ctx) -> None:  # noqa: ANN001
    seen: list[tuple[str, bool]] = []

    def record(_conn, _cursor, statement, _parameters, _context, executemany) -> None:  # noqa: ANN001
        seen.append((statement, executemany))

    engine = ctx.db.writer.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with ctx.db.transaction() as session:
            await driver_sql(session, "SELECT 1", ())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert ("SELECT 1", False) in seen


async def test_a_driver_error_is_sqlalchemys_and_rolls_the_transaction_back(ctx) -> None:  # noqa: ANN001
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError):
        async with ctx.db.transaction() as session:
            session.add(OutboxEvent(topic="kept?", payload={}, created_at=now))
            await session.flush()
            row_id = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.topic == "kept?"))
            sql = "INSERT INTO outbox (id, topic, payload, created_at, attempts) VALUES (?, ?, ?, ?, 0)" if ctx.db.is_sqlite else (
                "INSERT INTO outbox (id, topic, payload, created_at, attempts) VALUES ($1, $2, $3, $4, 0)"
            )
            await driver_sql(session, sql, (row_id, "again", b"x", now))  # the same primary key
    async with ctx.db.reading() as session:
        assert await session.scalar(select(OutboxEvent.id).where(OutboxEvent.topic == "kept?")) is None
