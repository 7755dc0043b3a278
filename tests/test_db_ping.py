"""PostgreSQL's pooled connections are checked before use only after sitting idle
(okno.kit.db_ping): a connection used moments ago goes straight to work, one idle past the limit
is pinged and replaced if the server dropped it."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from okno.kit import db_ping
from okno.kit.db import create_database, create_oneoff_engine


@pytest.fixture
async def pg(postgres_url: str):  # noqa: ANN201
    db = create_database(postgres_url)
    pings: list[object] = []
    ping = db.writer.sync_engine.dialect.do_ping
    db.writer.sync_engine.dialect.do_ping = lambda conn: (pings.append(conn), ping(conn))[1]  # type: ignore[method-assign]
    yield db, pings
    await db.dispose()


async def _backend(db) -> int:  # noqa: ANN001
    async with db.transaction() as session:
        return await session.scalar(text("SELECT pg_backend_pid()"))


async def _terminate(url: str, pid: int) -> None:
    engine = create_oneoff_engine(url)
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await engine.dispose()


async def test_a_connection_used_moments_ago_is_not_pinged(pg) -> None:  # noqa: ANN001
    db, pings = pg
    first = await _backend(db)
    for _ in range(5):
        assert await _backend(db) == first  # the same pooled connection, no round trips before its work
    assert pings == []


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(pg, postgres_url: str, monkeypatch) -> None:  # noqa: ANN001
    db, pings = pg
    dropped = await _backend(db)
    await _terminate(postgres_url, dropped)
    monkeypatch.setattr(db_ping, "PING_AFTER_IDLE", 0.0)  # it has now been idle long enough
    assert await _backend(db) != dropped  # pinged, found gone, replaced: the transaction never saw it
    assert len(pings) == 1


async def test_a_connection_dropped_within_the_idle_window_fails_one_transaction_only(pg, postgres_url: str) -> None:  # noqa: ANN001
    db, pings = pg
    dropped = await _backend(db)
    await _terminate(postgres_url, dropped)
    # the driver reports it as a closed connection, or (when the server's notice arrives as the
    # statement goes out) as its internal state error: either way this one transaction fails
    with pytest.raises(DBAPIError):
        await _backend(db)
    assert await _backend(db) != dropped  # the pool was invalidated: the next one connects afresh
    assert pings == []


async def test_a_connection_whose_driver_state_broke_is_dropped_not_pooled_again(pg, monkeypatch) -> None:  # noqa: ANN001
    db, _ = pg
    broken = await _backend(db)
    real_prepare = asyncpg.Connection.prepare

    async def prepare(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if self.get_server_pid() == broken:
            raise asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
        return await real_prepare(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "prepare", prepare)
    with pytest.raises(DBAPIError, match="another operation"):
        async with db.transaction() as session:
            await session.execute(text("SELECT 1 AS a statement_this_connection_has_not_prepared"))
    assert await _backend(db) != broken  # not handed out again: the next transaction has a new connection
