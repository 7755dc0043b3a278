"""The one-hop SQLite driver: same results and errors as SQLAlchemy's aiosqlite dialect, one
round trip to the connection's thread per statement (none for the writer's BEGIN IMMEDIATE and
statements inside a transaction, none for a reader's BEGIN and ROLLBACK), no ROLLBACK round trip
when idle."""

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
from okno.kit.sqlite_driver import _begin_patiently, engine_url


def test_engine_url_swaps_only_the_aiosqlite_driver() -> None:
    assert engine_url("sqlite+aiosqlite:////tmp/x.db?timeout=5") == "sqlite+okno:////tmp/x.db?timeout=5"
    assert engine_url("postgresql+asyncpg://postgres@127.0.0.1/db") == "postgresql+asyncpg://postgres@127.0.0.1/db"


def test_bytes_and_none_bind_as_themselves() -> None:
    """The driver's registered adapters hand an exact bytes value and None over unchanged: the
    same BLOB and NULL as unadapted, without the adapter protocol's failed look-ups."""
    value = b"\x01sealed\x00"
    assert sqlite3.adapters[(bytes, sqlite3.PrepareProtocol)](value) is value
    assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT ?, typeof(?), ? IS NULL", (value, value, None)).fetchone() == (value, "blob", 1)


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
        ran = args[0] if getattr(fn, "__name__", "") == "_counted" else fn  # OneHopConnection.on_thread: what it runs
        seen.append(getattr(ran, "__name__", repr(ran)).lstrip("_"))
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
    async with db.reading() as session:  # BEGIN, short SELECTs and the read transaction's ROLLBACK in place
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    assert hops == []  # none from the pool's reset either
    async with db.reading() as session:  # what is not a SELECT: one round trip, BEGIN included
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    assert hops == ["run_statement"]
    hops.clear()
    async with db.transaction() as session:  # BEGIN IMMEDIATE and the INSERT run in place; COMMIT hops
        await session.execute(text("INSERT INTO t (name) VALUES ('x')"))
    assert hops == ["commit"]


async def test_a_readers_select_runs_in_place_for_its_first_rows_the_rest_come_from_the_thread(db, hops: list[str]) -> None:  # noqa: ANN001
    from okno.kit.sqlite_driver import READ_ROWS

    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": f"n{i:05}"} for i in range(READ_ROWS * 3 + 7)])
    async with db.reading() as session:  # the pool's connection is set up (pragmas, functions)
        await session.execute(text("SELECT 1"))
    hops.clear()
    async with db.reading() as session:
        names = (await session.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert (await session.execute(text("SELECT count(*) FROM t WHERE name = 'n00003'"))).scalar_one() == 1
    assert names == [f"n{i:05}" for i in range(READ_ROWS * 3 + 7)]
    assert hops == ["fetch_rest"]  # and the short count after it in place again


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


async def test_the_writers_statements_and_a_readers_short_selects_run_on_the_loop_thread_a_long_one_does_not(db) -> None:  # noqa: ANN001
    ran_on: list[int] = []

    def thread_id() -> int:
        ran_on.append(threading.get_ident())
        return 1

    for engine in (db.writer, db.reader):
        async with engine.connect() as conn:  # the pool's one writer connection, a reader connection
            raw = await conn.get_raw_connection()
            await conn.run_sync(lambda _, raw=raw: raw.driver_connection._conn.create_function("thread_id", 0, thread_id))
    loop_thread = threading.get_ident()
    long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT max(x) FROM c"
    async with db.transaction() as session:
        await session.execute(text("SELECT thread_id()"))
    async with db.reading() as session:
        await session.execute(text("SELECT thread_id()"))
        # cut off in place after READ_STEPS steps, started over on the driver's thread
        row = (await session.execute(text(f"SELECT ({long}), thread_id()"))).one()
    assert tuple(row) == (200000, 1)
    assert ran_on[:2] == [loop_thread, loop_thread]
    assert ran_on[-1] != loop_thread


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


async def test_a_read_session_keeps_one_snapshot_though_its_begin_waits_for_its_first_statement(db) -> None:  # noqa: ANN001
    async with db.reading() as session:
        before = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
        async with db.transaction() as writing:  # another connection commits between the two reads
            await writing.execute(text("INSERT INTO t (name) VALUES ('later')"))
        again = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
    assert before == again == 0  # the deferred BEGIN ran: both reads saw the same snapshot
    async with db.reading() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1


async def test_the_writers_begin_falls_back_to_the_thread_only_while_another_writer_holds_the_lock(db, tmp_path: Path, hops: list[str]) -> None:  # noqa: ANN001
    async def busy_timeout() -> int:
        async with db.transaction() as session:
            return (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()

    assert await busy_timeout() == 10000  # the inline attempt put the connection's own wait back
    hops.clear()
    other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (name) VALUES ('waited')"))

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.05)
    assert hops == ["begin_patiently"] and not writing.done()  # BEGIN IMMEDIATE waits on the driver's thread
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, 10)
    assert hops == ["begin_patiently", "commit"]
    hops.clear()
    assert await busy_timeout() == 10000
    assert hops == ["commit"]  # the lock is free again: BEGIN IMMEDIATE in place


async def test_nothing_runs_in_place_while_a_cancelled_call_still_runs_on_the_thread(db, tmp_path: Path) -> None:  # noqa: ANN001
    other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def write(name: str) -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": name})

    async with db.writer.connect() as conn:
        adapted = (await conn.get_raw_connection()).dbapi_connection
    waiting = asyncio.create_task(write("cancelled"))
    await asyncio.sleep(0.05)
    assert not adapted.thread_idle  # its BEGIN IMMEDIATE waits on the driver's thread
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    other.execute("COMMIT")
    other.close()
    for _ in range(200):
        if adapted.thread_idle:
            break
        await asyncio.sleep(0.01)
    assert adapted.thread_idle
    await write("next")  # the writer works on, and the cancelled transaction left nothing behind
    async with db.reading() as session:
        assert (await session.execute(text("SELECT name FROM t"))).scalars().all() == ["next"]


def test_a_patient_begin_takes_the_lock_once_the_other_writer_lets_go_and_keeps_the_connections_own_wait(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter.execute("PRAGMA busy_timeout=10000")
    let_go = threading.Timer(0.05, holder.execute, ("COMMIT",))
    let_go.start()
    _begin_patiently(waiter, "BEGIN IMMEDIATE", "PRAGMA busy_timeout=10000")
    let_go.join()
    assert waiter.in_transaction  # it holds the write lock now
    waiter.execute("INSERT INTO t DEFAULT VALUES")
    waiter.execute("COMMIT")
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    holder.close()
    waiter.close()


def test_a_patient_begin_gives_up_after_the_connections_busy_timeout_as_sqlites_own_wait_does(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")  # never lets go
    waiter = sqlite3.connect(path, isolation_level=None)
    waiter.execute("PRAGMA busy_timeout=100")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        _begin_patiently(waiter, "BEGIN IMMEDIATE", "PRAGMA busy_timeout=100")
    assert not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 100
    holder.execute("ROLLBACK")
    holder.close()
    waiter.close()
