"""SQLAlchemy's aiosqlite dialect with one thread hop per statement instead of four.

aiosqlite runs every sqlite3 call on its own thread; SQLAlchemy's adapter makes one round trip
to that thread to open a cursor, one to execute, one to fetch and one to close, and one more
for a pool-return ROLLBACK even when no transaction is open. Each round trip costs a queue put,
a thread wake-up and an event-loop wake-up (~20 µs of CPU), and the write path runs a dozen
statements per group commit. Here a statement is one function run on that thread (cursor,
execute, fetch, close) and its rows come back in one piece; a ROLLBACK with no transaction open
is skipped. Everything else (connection set-up, pragmas, server-side cursors, error mapping)
is SQLAlchemy's own aiosqlite dialect.

A connection opened with ``connect_args={INLINE_IN_TRANSACTION: True}`` (the writer's:
``create_database``) goes one step further: inside an open transaction its statements run on the calling thread, with no
hop at all. Waking aiosqlite's thread and then the event loop again costs more than a short
statement on the single writer (py-spy: the queue's ``sem_post`` alone was 10–15 % of the time
okno holds the GIL under webhook load), and nothing runs beside the writer's statement anyway:
the transaction holds SQLite's one write lock. What may wait stays on the thread: ``BEGIN
IMMEDIATE`` (it waits up to ``busy_timeout`` for another process's writer), ``COMMIT`` (it may
checkpoint the WAL), ``ROLLBACK``, and every statement outside a transaction. The readers keep
one hop per statement, so a long read never stalls the event loop.

Registered as ``sqlite+okno``; :func:`engine_url` swaps it in for ``sqlite+aiosqlite``.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "okno"


def _same(value: Any) -> Any:
    return value


# Python's sqlite3 binds int, float and str directly, but looks every other parameter (None, bytes:
# a NULL column, a sealed value) up as an adapter, and an unregistered type costs a formatted
# AttributeError on the adapter protocol's type, raised and cleared (callgrind: ~13 per webhook
# message, ~5 % of the group commit's instructions). Registered as themselves they bind exactly
# as before (None as NULL, bytes as the same BLOB) after one registry look-up.
sqlite3.register_adapter(bytes, bytes)  # returns an exact bytes object itself
sqlite3.register_adapter(type(None), _same)
# connect argument: run this connection's statements inside a transaction on the caller's thread
INLINE_IN_TRANSACTION = "okno_inline_in_transaction"
_ASYNC_DRIVER = "sqlite+aiosqlite"


def engine_url(url: str) -> str:
    """``sqlite+aiosqlite://…`` → ``sqlite+okno://…`` (same file, same options); others unchanged."""
    return f"sqlite+{DRIVER}" + url[len(_ASYNC_DRIVER) :] if url.startswith(_ASYNC_DRIVER) else url


def _run_statement(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple:
    """On aiosqlite's thread: the whole statement, its rows fetched, its cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid")

    _awaitable_cursor_close = False  # nothing to close: the sqlite3 cursor closed on its thread

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            if self._adapt_connection.inline_in_transaction and connection._conn.in_transaction:
                # the connection's thread is idle between calls (the execute mutex; commit and
                # rollback are awaited by the one session holding the writer), so this is safe
                outcome = _run_statement(connection._conn, operation, parameters, many)
            else:
                outcome = await connection._execute(_run_statement, connection._conn, operation, parameters, many)
            self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows else collections.deque()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("inline_in_transaction",)

    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any, *, inline_in_transaction: bool = False) -> None:
        super().__init__(dbapi, connection)
        # statements inside a transaction run on the caller's thread (opened with check_same_thread=False)
        self.inline_in_transaction = inline_in_transaction

    def rollback(self) -> None:
        connection = self._connection
        # ``in_transaction`` only reads SQLite's autocommit flag; the connection's thread is idle
        # between statements (the execute mutex), so reading it here is safe
        if connection._connection is not None and connection._conn.in_transaction:
            super().rollback()


async def read_outside_transaction(connection: Any, operation: str, parameters: tuple) -> list[tuple]:
    """One read on a reader's ``AsyncConnection`` with no transaction around it (a single SELECT
    is consistent on its own): one hop to the connection's thread and back with its rows, without
    SQLAlchemy's BEGIN, execution context and result around it (what a fixed read that runs all the
    time, the outbox relay's, pays per call). The caller converts the raw values."""
    raw = await connection.get_raw_connection()
    adapted: OneHopConnection = raw.dbapi_connection  # type: ignore[assignment]
    async with adapted._execute_mutex:
        driver = adapted._connection
        _, rows, _, _ = await driver._execute(_run_statement, driver._conn, operation, parameters, False)
    return rows or []


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        inline = bool(kw.pop(INLINE_IN_TRANSACTION, False))
        if inline:
            kw["check_same_thread"] = False  # statements then run on two threads, never at once
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection, inline_in_transaction=inline)


class OneHopSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopSQLiteDialect")
