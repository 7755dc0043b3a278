"""The one-hop SQLite driver: same results and errors as SQLAlchemy's aiosqlite dialect, one
round trip to the connection's thread per statement (none for the writer's statements inside a
transaction), no ROLLBACK round trip when idle."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from okno.kit.db import create_database
from okno.kit.sqlite_driver import engine_url


def test_engine_url_swaps_only_the_aiosqlite_driver() -> None:
    assert engine_url("sqlite+aiosqlite:////tmp/x.db?timeout=5") == "sqlite+okno:////tmp/x.db?timeout=5"
    assert engine_url("postgresql+asyncpg://postgres@127.0.0.1/db") == "postgresql+asyncpg://postgres@127.0.0.1/db"


@pytest.fixture
async def db(tmp_path: Path):  # noqa: ANN201
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counting(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counting)
    return seen


async def test_rows_rowcount_and_returning_come_back_whole(db) -> None:  # noqa: ANN001
    assert db.writer.dialect.driver == "okno"
    async with db.transaction() as session:
        inserted = await session.execute(text("INSERT INTO t (name) VALUES (:n) RETURNING id, name"), {"n": "анна"})
        assert inserted.all() == [(1, "анна")]
        many = await session.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": f"n{i}"} for i in range(5)])
        assert many.rowcount == 5
        updated = await session.execute(text("UPDATE t SET name = name || '!' WHERE id > 3"))
        assert updated.rowcount == 3
    async with db.reading() as session:
        rows = (await session.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
    assert [r.name for r in rows] == ["анна", "n0", "n1", "n2!", "n3!", "n4!"]


async def test_a_statement_is_one_round_trip_and_an_idle_rollback_none(db, hops: list[str]) -> None:  # noqa: ANN001
    async with db.reading() as session:  # the pool's connection is set up (pragmas, functions)
        await session.execute(text("SELECT 1"))
    hops.clear()
    async with db.reading() as session:  # BEGIN, SELECT, ROLLBACK of the read transaction
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    assert hops == ["_run_statement", "_run_statement", "rollback"]  # no second ROLLBACK from the pool's reset
    hops.clear()
    async with db.transaction() as session:  # BEGIN IMMEDIATE hops; the INSERT runs in place; COMMIT hops
        await session.execute(text("INSERT INTO t (name) VALUES ('x')"))
    assert hops == ["_run_statement", "commit"]


async def test_errors_map_to_sqlalchemy_exceptions_and_roll_back(db) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (name) VALUES ('same')"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (name) VALUES ('other')"))
            await session.execute(text("INSERT INTO t (name) VALUES ('same')"))
    async with db.reading() as session:
        names = (await session.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["same"]  # 'other' went with the rolled-back transaction


async def test_the_writers_statements_in_a_transaction_run_on_the_loop_thread_the_readers_do_not(db) -> None:  # noqa: ANN001
    ran_on: list[int] = []

    def thread_id() -> int:
        ran_on.append(threading.get_ident())
        return 1

    for engine in (db.writer, db.reader):
        async with engine.connect() as conn:  # the pool's one writer connection, a reader connection
            raw = await conn.get_raw_connection()
            await conn.run_sync(lambda _, raw=raw: raw.driver_connection._conn.create_function("thread_id", 0, thread_id))
    loop_thread = threading.get_ident()
    async with db.transaction() as session:
        await session.execute(text("SELECT thread_id()"))
    async with db.reading() as session:
        await session.execute(text("SELECT thread_id()"))
    assert ran_on[0] == loop_thread
    assert ran_on[1] != loop_thread


async def test_begin_immediate_waits_for_another_writer_without_stalling_the_event_loop(db, tmp_path: Path) -> None:  # noqa: ANN001
    other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    other.execute("INSERT INTO t (name) VALUES ('first')")

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (name) VALUES ('second')"))

    writing = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # the loop keeps running while BEGIN IMMEDIATE waits on the driver's thread
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and not writing.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, 10)
    async with db.reading() as session:
        names = (await session.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["first", "second"]
