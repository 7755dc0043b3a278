"""Primary keys taken before a bulk insert, so batches are one ``executemany`` without ``RETURNING``
(SQLite can only return ids in parameter order one row at a time)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.bulk import driver_sql


async def allocate_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    """``count`` fresh ids for ``table``. Insert rows with them before allocating again for the
    same table in the same transaction (on SQLite the range is read from ``sqlite_sequence``)."""
    if count <= 0:
        return []
    cached = session.info.get(_SQLITE_SEQ)
    if cached is not None and table.name in cached:  # read once per transaction by prefetch_sequences
        start = cached[table.name]
        cached[table.name] = start + count
        return list(range(start + 1, start + 1 + count))
    if session.bind.dialect.name == "postgresql":
        rows = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count},
        )
        return [row[0] for row in rows]
    # The SQLite writer's transactions begin IMMEDIATE: nobody else takes ids until we commit.
    last = await session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table.name})
    if last is None:
        last = await session.scalar(text(f'SELECT coalesce(max(id), 0) FROM "{table.name}"'))  # noqa: S608
    return list(range(last + 1, last + 1 + count))


async def insert_with_ids(session: AsyncSession, table: Table, rows: list[dict]) -> list[int]:
    """Inserts ``rows`` (without ids) as one statement and returns their new ids in row order.

    PostgreSQL: the sequence fills the ids and ``RETURNING`` hands them back (ordered by the
    rows' parameter order), so no separate ``nextval`` round trip precedes the insert. SQLite:
    the ids are taken first (:func:`allocate_ids`, free when :func:`prefetch_sequences` read the
    counter) and the rows go in as one ``executemany``."""
    if not rows:
        return []
    if session.bind.dialect.name == "postgresql":
        returned = await session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return list(returned.scalars())
    ids = await allocate_ids(session, table, len(rows))
    await session.execute(insert(table), [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)])
    return ids


_SQLITE_SEQ = "okno.sqlite_sequence"


@cache
def _sequences_sql(count: int) -> str:
    return f"SELECT name, seq FROM sqlite_sequence WHERE name IN ({', '.join('?' * count)})"  # noqa: S608 (placeholders only)


async def prefetch_sequences(session: AsyncSession, tables: list[Table]) -> None:
    """SQLite: read the id counters of several tables in one round trip for this transaction
    (straight to the driver: an expanding ``IN`` made SQLAlchemy render the statement anew for
    every group commit)."""
    if session.bind.dialect.name != "sqlite":
        return
    names = tuple(t.name for t in tables)
    rows = await driver_sql(session, _sequences_sql(len(names)), names)
    found = dict(rows.all())
    if len(found) == len(names):  # a table that never had a row has no counter yet: fall back
        session.info[_SQLITE_SEQ] = found
