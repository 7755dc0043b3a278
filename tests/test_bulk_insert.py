"""``okno.kit.bulk.BulkInsert`` stores what ``insert(table)`` stores, on both backends: sealed
columns sealed (and opened back), datetimes as UTC, scalar defaults filled, ``None`` as SQL NULL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text

from okno.kit.bulk import BulkInsert
from okno.models import Job, OutboxEvent

MOSCOW = timezone(timedelta(hours=3))


async def test_rows_read_back_as_if_inserted_by_sqlalchemy(ctx) -> None:  # noqa: ANN001
    table = OutboxEvent.__table__
    moment = datetime(2026, 12, 6, 23, 5, 7, 123456, tzinfo=MOSCOW)
    payload = {"customer_id": 7, "identity": "phone:+79031234567", "text": "Здравствуйте"}
    bulk = BulkInsert(table, ("topic", "payload", "created_at"))  # attempts: its default 0
    async with ctx.db.transaction() as session:
        await session.execute(insert(table), [{"topic": "core", "payload": payload, "created_at": moment}])
        assert await bulk.run(session, [("bulk", payload, moment), ("bulk", {}, moment)]) == 2
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(table.c.topic, table.c.payload, table.c.created_at, table.c.attempts, table.c.published_at).order_by(table.c.id))).all()
        sealed = (await session.execute(text("SELECT payload FROM outbox ORDER BY id"))).scalars().all()
        if ctx.db.is_sqlite:  # the very text SQLAlchemy's path writes
            stamps = (await session.execute(text("SELECT created_at FROM outbox"))).scalars().all()
            assert set(stamps) == {"2026-12-06 20:05:07.123456"}
    assert [tuple(r) for r in rows] == [
        ("core", payload, moment, 0, None),
        ("bulk", payload, moment, 0, None),
        ("bulk", {}, moment, 0, None),
    ]
    assert all(r.created_at.tzinfo is UTC for r in rows)
    assert all(b"+7903" not in bytes(value) and "Здравствуйте".encode() not in bytes(value) for value in sealed)  # sealed at rest


async def test_none_is_sql_null_and_left_out_mappings_take_defaults(ctx) -> None:  # noqa: ANN001
    table = Job.__table__
    now = datetime.now(UTC)
    bulk = BulkInsert(table, ("kind", "payload", "progress", "result", "run_after", "created_at"))
    async with ctx.db.transaction() as session:
        await bulk.run_dicts(session, [
            {"kind": "plain", "payload": {}, "progress": {}, "run_after": now, "created_at": now},
            {"kind": "done", "payload": {"a": 1}, "progress": {}, "result": {"ok": True}, "run_after": now, "created_at": now},
        ])  # fmt: skip
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(table.c.kind, table.c.result, table.c.status, table.c.attempts, table.c.max_attempts).order_by(table.c.id))).all()
        nulls = await session.scalar(select(func.count()).select_from(table).where(table.c.result.is_(None)))
    assert [tuple(r) for r in rows] == [("plain", None, "queued", 0, 3), ("done", {"ok": True}, "queued", 0, 3)]
    assert nulls == 1  # SQL NULL, not the JSON text 'null'


async def test_rows_sharing_an_instant_or_a_payload_each_get_their_own_values(ctx) -> None:  # noqa: ANN001
    """A group's rows share datetime objects (their text is worked out once) and may share a
    payload object: each sealed value is still sealed on its own (no two alike)."""
    table = OutboxEvent.__table__
    first, second = datetime(2026, 12, 7, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 9, 0, 1, tzinfo=MOSCOW)
    payload = {"customer_id": 8}
    bulk = BulkInsert(table, ("topic", "payload", "created_at"))
    async with ctx.db.transaction() as session:
        await bulk.run(session, [("shared", payload, first), ("shared", payload, first), ("shared", payload, second), ("shared", payload, first)])
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(table.c.payload, table.c.created_at).where(table.c.topic == "shared").order_by(table.c.id))).all()
        sealed = (await session.execute(text("SELECT payload FROM outbox WHERE topic = 'shared'"))).scalars().all()
    assert [tuple(r) for r in rows] == [(payload, first), (payload, first), (payload, second), (payload, first)]
    assert len({bytes(value) for value in sealed}) == 4


def test_a_left_out_column_computed_per_row_is_refused() -> None:
    with pytest.raises(ValueError, match="per-row default"):
        BulkInsert(OutboxEvent.__table__, ("topic", "payload"))  # created_at defaults to utcnow()
    with pytest.raises(ValueError, match="no column"):
        BulkInsert(OutboxEvent.__table__, ("topic", "payload", "created_at", "nope"))


async def test_a_naive_datetime_is_refused(ctx) -> None:  # noqa: ANN001
    bulk = BulkInsert(OutboxEvent.__table__, ("topic", "payload", "created_at"))
    with pytest.raises(ValueError, match="naive datetime"):
        async with ctx.db.transaction() as session:
            await bulk.run(session, [("naive", {}, datetime(2026, 12, 6, 23, 5))])


async def test_sqlite_multi_row_insert_returns_every_row_across_statements(ctx) -> None:  # noqa: ANN001
    if not ctx.db.is_sqlite:
        pytest.skip("SQLite's path (PostgreSQL keeps SQLAlchemy's statement)")
    bulk = BulkInsert(OutboxEvent.__table__, ("topic", "payload", "created_at"))
    now = datetime.now(UTC)
    rows = [(f"t{i}", {"i": i}, now) for i in range(5000)]  # more rows than one statement takes parameters
    async with ctx.db.transaction() as session:
        returned = await bulk.run_returning_sqlite(session, rows, "RETURNING id, topic")
    assert sorted(topic for _, topic in returned) == sorted(topic for topic, _, _ in rows)
    async with ctx.db.reading() as session:
        stored = dict((await session.execute(select(OutboxEvent.id, OutboxEvent.payload))).all())
    assert {row_id: stored[row_id]["i"] for row_id, _ in returned} == {row_id: int(topic[1:]) for row_id, topic in returned}


def test_sealed_columns_are_sealed_as_a_batch_exactly_as_one_by_one() -> None:
    """A sealed column's batch processor gives what its per-value processor gives (the same
    plain text under the same key, the driver's binary type), each value with a nonce of its own;
    ``None`` stays SQL NULL."""
    from sqlalchemy.dialects import postgresql, sqlite

    from okno.kit import pii
    from okno.kit.bulk import _processed
    from okno.models import InboundItem

    ring = pii.keys()
    item_type, raw_type = InboundItem.__table__.c.item.type, InboundItem.__table__.c.raw.type
    values = [{"a": "Здравствуйте", "n": 1}, {"a": "Здравствуйте", "n": 1}, {}]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        one = item_type.bind_processor(dialect)
        batch = item_type.bulk_bind_processor(dialect)(values)
        assert [type(v) for v in batch] == [type(one(v)) for v in values]
        assert [pii.open_json(bytes(v)) for v in batch] == values
        assert len({bytes(v)[5:17] for v in batch}) == 3  # a nonce per value, equal values too
        assert all(bytes(v)[:5] == b"\x01" + ring.newest_key_id for v in batch)
        texts = raw_type.bulk_bind_processor(dialect)(["тело", "тело"])
        assert [pii.open_text(bytes(v)) for v in texts] == ["тело", "тело"] and bytes(texts[0]) != bytes(texts[1])
    rows = _processed([(1, None), (2, "b")], (None, None), (), batches=((1, raw_type.bulk_bind_processor(sqlite.dialect())),))
    assert rows[0] == (1, None) and pii.open_text(bytes(rows[1][1])) == "b"
    assert [ring.open(s) for s in ring.seal_many([b"x", b"", b"y" * 1000])] == [b"x", b"", b"y" * 1000]
    assert ring.seal_many([]) == []


def test_rows_processed_column_by_column_are_the_rows_processed_value_by_value() -> None:
    """``_processed`` (whole columns at a time) gives what each value's own processor gives, in
    row order: None kept as SQL NULL, shared and unshared instants, constants last; a row of the
    wrong width is refused."""
    from okno.kit import pii
    from okno.kit.bulk import _processed
    from okno.kit.sqlite_driver import OneHopSQLiteDialect
    from okno.models import TimelineEvent

    dialect = OneHopSQLiteDialect()
    bulk = BulkInsert(TimelineEvent.__table__, ("customer_id", "occurred_at", "actor_ref", "kind", "conversation_id", "data"))
    compiled = bulk._compile(dialect)  # noqa: SLF001
    shared, other = datetime(2026, 12, 7, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 12, 0, 1, tzinfo=MOSCOW)
    rows = [(1, shared, None, "a", 5, None), (2, shared, "r", "b", None, {}), (3, other, None, "c", 6, None), (4, shared, "s", "d", 7, None)]
    expected = [  # the sealed data (last) aside: its nonces are drawn anew
        tuple(None if value is None else (processor(value) if processor is not None else value) for value, processor in zip(row[:-1], compiled.processors, strict=False))
        for row in rows
    ]
    got = _processed(rows, compiled.processors, compiled.constants, compiled.instants, compiled.batches)
    assert [row[:-1] for row in got] == expected and all(len(row) == 6 + len(compiled.constants) for row in got)
    assert [None if row[5] is None else pii.open_json(bytes(row[5])) for row in got] == [None, {}, None, None]
    assert [row[6:] for row in got] == [compiled.constants] * 4
    assert expected[2][1] == "2026-12-07 09:00:01.000000"  # an instant of another zone, as UTC text
    assert _processed([], compiled.processors, compiled.constants) == []
    with pytest.raises(ValueError, match="a row of 5 values for 6 columns"):
        _processed([rows[0], rows[1][:5]], compiled.processors, compiled.constants)
