"""Engines, sessions and column types shared by every model.

SQLite (embedded default) runs in WAL mode with two engines: a single-connection *writer*
whose transactions start with ``BEGIN IMMEDIATE`` (so a read-then-write transaction can never
hit ``SQLITE_BUSY_SNAPSHOT``), and a pooled *reader* for queries. On PostgreSQL both names
point at one engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import UTC, datetime

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event, make_url, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, TypeEngine

from okno.kit.db_ping import ping_when_idle
from okno.kit.db_wake import take_after_commit, take_wakes
from okno.kit.private_files import private_sqlite
from okno.kit.sqlite_driver import INLINE_IN_TRANSACTION, engine_url
from okno.kit.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer
from okno.kit.time import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only autoincrements a column typed exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class _SQLiteUTCText(sqlite.DATETIME):
    """SQLite stores datetimes as text. This writes the same text as SQLAlchemy's own DATETIME
    (``2026-11-24 09:05:00.000000``, UTC, microseconds always present, so text order is time
    order) and reads it back, with the C ``isoformat``/``fromisoformat`` instead of a %-format
    and a regex per value: every ingested message binds a dozen datetimes, and the generic
    formatter alone was 3 % of the webhook path's CPU."""

    def bind_processor(self, dialect: object) -> Callable[[datetime | None], str | None]:
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: object, coltype: object) -> Callable[[object], datetime | None]:
        def process(value: object) -> datetime | None:
            if value is None or isinstance(value, datetime):
                return value
            return datetime.fromisoformat(value)  # type: ignore[arg-type]

        return process


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; okno stores UTC-aware datetimes only")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _sqlite_utc_text(value: datetime) -> str:
    """An aware datetime as SQLite's UTC text. Datetimes already in UTC (``utcnow()``: nearly all)
    are remembered: the rows of one group commit share a handful of instants (the group's arrival,
    its commit), and ``isoformat`` formats each field through ``sprintf`` (~10,000 instructions a
    value, ~8 % of the webhook path's instructions in callgrind). Only UTC ones: two datetimes of
    one named zone that differ only in ``fold`` compare equal though they are an hour apart."""
    if value.tzinfo is UTC:
        return _utc_text(value)
    return _aware_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


@lru_cache(maxsize=1024)
def _utc_text(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[datetime]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteUTCText())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else _aware_utc(value)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else as_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], object] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_sqlite_text(value: datetime | None) -> str | None:  # the two steps, one call
            return None if value is None else _sqlite_utc_text(value)

        return to_sqlite_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[object], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_sqlite_text(value: object) -> datetime | None:
            if value is None:
                return None
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)  # type: ignore[arg-type]
            return as_utc(parsed)

        return from_sqlite_text


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@dataclass
class Database:
    writer: AsyncEngine
    reader: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    # called after every successful commit with the workers the transaction asked to wake
    after_commit: Callable[[Iterable[str]], None] = field(default=lambda names: None)
    # SQLite: copies the WAL into the database file beside the writer (kit/wal_checkpointer.py)
    checkpointer: WalCheckpointer | None = None
    # SQLite: how many transactions this process's writer has committed (kit/wake_bridge.py tells
    # its own commits from other processes' by it)
    writer_commits: Callable[[], int] = field(default=lambda: 0)

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write unit of work: commits on success, rolls back on error; wakes workers after commit."""
        async with self.write_sessions() as session:
            async with session.begin():
                yield session
        for callback in take_after_commit(session):
            callback()
        self.after_commit(take_wakes(session))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_pragmas(engine: AsyncEngine, *, writer: bool, checkpointer: WalCheckpointer | None = None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: object, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves  # type: ignore[attr-defined]
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        # freed space (a deleted row, an emptied message, an erased customer's old values) is
        # overwritten with zeros, so the file keeps no copy of what was deleted; the WAL's old
        # page images go with the checkpoint after an erase (checkpoint_wal)
        cur.execute("PRAGMA secure_delete=ON")
        if checkpointer is not None:  # its thread checkpoints; the writer's COMMIT only past the backstop
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cur.close()
        # SQLite's own lower() folds ASCII only, so ILIKE (lower(x) LIKE lower(y)) missed "анна" in
        # "Анна"; Python's folds every script, as PostgreSQL's does
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)  # type: ignore[attr-defined]

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: object) -> None:
        # straight to the driver: SQLAlchemy's statement machinery (execution context, events,
        # result) cost more than the BEGIN itself, once per transaction. The driver runs the
        # writer's BEGIN IMMEDIATE inline unless it has to wait, and sends a reader's BEGIN along
        # with its first statement (kit/sqlite_driver.py: no thread hop of its own either way)
        conn.connection.dbapi_connection.begin(begin)  # type: ignore[attr-defined]

    if checkpointer is not None:

        @event.listens_for(engine.sync_engine, "commit")
        def _on_commit(conn: object) -> None:
            checkpointer.committed()


async def checkpoint_wal(db: Database) -> tuple[int, int, int]:
    """SQLite: copy the WAL into the database file and truncate it to zero bytes, so old page
    images (what an erase removed) leave the ``-wal`` file. Returns SQLite's (busy, wal pages,
    checkpointed pages); busy is 1 when a reader's open snapshot kept it from finishing."""
    async with db.writer.connect() as conn:
        raw = await conn.get_raw_connection()
        cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        row = await cursor.fetchone()
        await cursor.close()
    return tuple(row)  # type: ignore[return-value]


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


# orjson keeps Cyrillic as UTF-8 (the stdlib writes \uXXXX escapes, about 3x the bytes) and is faster
JSON_CODEC = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def create_database(url: str, *, echo: bool = False) -> Database:
    url = engine_url(url)
    if url.startswith("sqlite"):
        private_sqlite(url)
        # the writer runs its statements inside a transaction on the event loop's thread, with no
        # hop to the driver's thread (kit/sqlite_driver.py); the readers keep theirs
        writer = create_async_engine(
            url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60, connect_args={INLINE_IN_TRANSACTION: True}, **JSON_CODEC
        )
        reader = create_async_engine(url, echo=echo, pool_size=4, max_overflow=4, **JSON_CODEC)
        checkpointer = _checkpointer(url)
        _sqlite_pragmas(writer, writer=True, checkpointer=checkpointer)
        _sqlite_pragmas(reader, writer=False)
        commits = _count_commits(writer)
    else:
        writer = reader = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, **JSON_CODEC)
        ping_when_idle(writer.sync_engine)  # not pool_pre_ping: three round trips on every checkout
        checkpointer = None
        commits = lambda: 0  # noqa: E731 (PostgreSQL: nothing watches data_version)
    return Database(
        writer=writer,
        reader=reader,
        write_sessions=async_sessionmaker(writer, expire_on_commit=False),
        read_sessions=async_sessionmaker(reader, expire_on_commit=False),
        checkpointer=checkpointer,
        writer_commits=commits,
    )


def _count_commits(engine: AsyncEngine) -> Callable[[], int]:
    counted = [0]

    @event.listens_for(engine.sync_engine, "commit")
    def _committed(_connection: object) -> None:
        counted[0] += 1

    return lambda: counted[0]


def _checkpointer(url: str) -> WalCheckpointer | None:
    """A file database's checkpointer (an in-memory one has no WAL)."""
    database = make_url(url).database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return WalCheckpointer(database)


def create_oneoff_engine(url: str) -> AsyncEngine:
    """An engine for CLI one-shots (migrations, admin commands) that keeps no pool around."""
    url = engine_url(url)
    if url.startswith("sqlite"):
        private_sqlite(url)
    engine = create_async_engine(url, poolclass=NullPool, **JSON_CODEC)
    if url.startswith("sqlite"):
        _sqlite_pragmas(engine, writer=True)
    return engine


async def run_outside_transaction(url: str, statement: str) -> None:
    """One statement in autocommit mode on a one-off engine: what ``CREATE DATABASE`` and
    ``DROP DATABASE`` need on PostgreSQL (test fixtures, benchmarks)."""
    engine = create_oneoff_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def insert_ignoring_duplicates(table: object, dialect_name: str, index_elements: list[str]):  # noqa: ANN201
    """``INSERT … ON CONFLICT (…) DO NOTHING`` for either backend."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)
