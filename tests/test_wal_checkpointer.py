"""SQLite's WAL is copied into the database file by the checkpointer's thread, not by the
writer's COMMIT; the WAL stays bounded and what was committed is all there."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from okno.kit.db import create_database

PAGE = 4096


@pytest.fixture
async def db(tmp_path: Path):  # noqa: ANN201
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"))
    yield database
    await database.dispose()


async def write_pages(db, pages: int) -> None:  # noqa: ANN001
    for _ in range(pages // 50):
        async with db.transaction() as session:  # ~50 pages a commit
            await session.execute(text("INSERT INTO t (body) VALUES (randomblob(4000))"), [{}] * 50)


async def settle(db) -> None:  # noqa: ANN001
    runs = db.checkpointer.runs
    for _ in range(200):
        await asyncio.sleep(0.02)
        if db.checkpointer.runs > runs:
            return
    raise AssertionError("the checkpointer did not run")


async def test_the_writers_commit_leaves_the_checkpoint_to_the_checkpointers_thread(db, tmp_path: Path) -> None:  # noqa: ANN001
    db.checkpointer.every = 30.0  # not within this test's writes
    main, wal = tmp_path / "c.db", tmp_path / "c.db-wal"
    before = main.stat().st_size
    await write_pages(db, 1500)  # past SQLite's default of 1,000 pages
    assert wal.stat().st_size > 1400 * PAGE  # no commit started the WAL over ...
    assert main.stat().st_size == before  # ... or copied it into the database file
    db.checkpointer.every = 0.01
    db.checkpointer.stop()  # its thread waited 30 s: start it over with the short interval
    await write_pages(db, 50)
    await settle(db)
    assert main.stat().st_size > 1400 * PAGE
    other = sqlite3.connect(main)
    assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 1550
    other.close()


async def test_the_wal_stays_about_one_interval_of_commits_long(db, tmp_path: Path) -> None:  # noqa: ANN001
    db.checkpointer.every = 0.01
    sizes = []
    for _ in range(6):
        await write_pages(db, 400)
        await settle(db)
        sizes.append((tmp_path / "c.db-wal").stat().st_size)
    assert max(sizes) < 1200 * PAGE  # started over after each checkpoint, not 2,400 pages long
    async with db.reading() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2400


async def test_stopping_is_quick_and_the_database_closes_clean(tmp_path: Path) -> None:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    assert database.checkpointer._thread is not None  # started by the first commit
    await asyncio.wait_for(database.dispose(), 2)  # does not wait out the interval
    assert database.checkpointer._thread is None


async def test_a_stop_that_comes_as_it_wakes_up_is_not_lost(tmp_path: Path) -> None:
    import threading

    from okno.kit.wal_checkpointer import WalCheckpointer

    waking, go_on = threading.Event(), threading.Event()

    class Wake(threading.Event):
        def clear(self) -> None:  # the thread clears its wake-up just as stop() sets it
            waking.set()
            go_on.wait(5)
            super().clear()

    checkpointer = WalCheckpointer(str(tmp_path / "x.db"), every=0.01)
    checkpointer._committed = Wake()
    checkpointer.committed()
    assert await asyncio.to_thread(waking.wait, 5)
    stopping = asyncio.create_task(asyncio.to_thread(checkpointer.stop))
    await asyncio.sleep(0.05)  # stop() has set both events and waits for the thread
    go_on.set()
    await asyncio.wait_for(stopping, 5)  # returned: the thread saw the stop after its checkpoint
    assert checkpointer.runs == 1
