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
the transaction holds SQLite's one write lock. Its ``BEGIN IMMEDIATE`` is tried in place too,
with no busy wait; only when another process holds the write lock does it go to the thread and
wait there up to ``busy_timeout``. What may take long stays on the thread: ``COMMIT`` (it writes
the WAL and may checkpoint it), ``ROLLBACK``, and every statement outside a transaction.

A reader's ``SELECT`` runs in place too while it stays short: SQLite's progress handler cuts it
off past :data:`READ_STEPS` steps of its engine (a read-only statement cut off leaves its
transaction and snapshot as they were) and it starts over on the driver's thread, so a long read
never stalls the event loop for more than that; rows past the first :data:`READ_ROWS` are fetched
on the thread. It never waits for a lock in place (``busy_timeout`` is 0 meanwhile: SQLITE_BUSY
sends it to the thread as well). Anything else a reader runs is one hop, its deferred ``BEGIN``
(it takes no lock) riding along; its ``ROLLBACK`` (it only lets go of a WAL snapshot) runs in
place. A read session of short SELECTs makes no round trip at all instead of three or more.

Nothing runs on the event loop's thread while a call of ours is queued or running on the
driver's thread (a cancelled await leaves its call running there): ``OneHopConnection.thread_idle``.

Registered as ``sqlite+okno``; :func:`engine_url` swaps it in for ``sqlite+aiosqlite``.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_, greenlet_spawn

DRIVER = "okno"


def _same(value: Any) -> Any:
    return value


# Python's sqlite3 binds int, float and str directly, but looks every other parameter (None, bytes:
# a NULL column, a sealed value) up as an adapter, and an unregistered type costs a formatted
# AttributeError on the adapter protocol's type, raised and cleared (callgrind: ~13 per webhook
# message, ~5 % of the group commit's instructions). Registered as themselves they bind exactly
# as before (None as NULL, bytes as the same BLOB) after one registry look-up.
# ``bytes.__bytes__`` rather than ``bytes``: both give an exact bytes object back itself, but
# calling the type parses its arguments and looks ``__bytes__`` up first (~700 instructions more
# a value; a webhook message binds several sealed values)
sqlite3.register_adapter(bytes, bytes.__bytes__)
sqlite3.register_adapter(type(None), _same)
# connect argument: run this connection's statements inside a transaction on the caller's thread
INLINE_IN_TRANSACTION = "okno_inline_in_transaction"
# a reader's SELECT runs on the caller's thread while it takes at most READ_STEPS steps of SQLite's
# engine in all (~0.1-0.5 ms: past that it starts over on the driver's thread), and for its first
# READ_ROWS rows only (the rest are fetched on the driver's thread)
READ_STEPS = 10_000
READ_ROWS = 256
# a writer whose BEGIN IMMEDIATE finds another process holding the write lock tries again this often
LOCK_POLL_SECONDS = 0.0002
_ASYNC_DRIVER = "sqlite+aiosqlite"


def engine_url(url: str) -> str:
    """``sqlite+aiosqlite://…`` → ``sqlite+okno://…`` (same file, same options); others unchanged."""
    return f"sqlite+{DRIVER}" + url[len(_ASYNC_DRIVER) :] if url.startswith(_ASYNC_DRIVER) else url


def _run_statement(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool, begin: str | None = None) -> tuple:
    """On aiosqlite's thread: the whole statement, its rows fetched, its cursor closed; ``begin``
    (a reader's deferred ``BEGIN``, put off until its first statement) runs first, in the same hop."""
    if begin is not None:
        _begin(conn, begin)
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
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            connection = self._connection
            conn = connection._conn
            if adapt.inline_in_transaction and adapt.thread_idle and conn.in_transaction:
                # the connection's thread is idle (nothing queued or running on it) and commit and
                # rollback are awaited by the one session holding the writer, so this is safe
                outcome = _run_statement(conn, operation, parameters, many)
            elif not many and adapt.thread_idle and _is_select(operation) and (
                outcome := await adapt.read_in_place(operation, parameters)
            ):
                pass
            else:
                begin, adapt.pending_begin = adapt.pending_begin, None
                outcome = await adapt.on_thread(_run_statement, conn, operation, parameters, many, begin)
            self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows else collections.deque()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("inline_in_transaction", "pending_begin", "_sent", "_done", "_restore_wait")

    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any, *, inline_in_transaction: bool = False) -> None:
        super().__init__(dbapi, connection)
        # statements inside a transaction run on the caller's thread (opened with check_same_thread=False)
        self.inline_in_transaction = inline_in_transaction
        self.pending_begin: str | None = None  # a deferred BEGIN that rides with the next statement
        self._sent = 0  # calls handed to the driver's thread (counted on the event loop's thread)
        self._done = 0  # calls it has finished (counted on the driver's thread only)
        self._restore_wait: str | None = None  # its own busy_timeout, read at its first inline BEGIN

    @property
    def thread_idle(self) -> bool:
        """Nothing of ours is queued or running on the driver's thread (a cancelled await leaves
        its call running there; the connection is not touched from here until it has finished)."""
        return self._sent == self._done

    async def on_thread(self, function: Any, *args: Any) -> Any:
        connection = self._connection
        if connection._running and connection._connection is not None:  # else aiosqlite refuses it unqueued
            self._sent += 1
        return await connection._execute(self._counted, function, *args)

    def _counted(self, function: Any, *args: Any) -> Any:  # on the driver's thread
        try:
            return function(*args)
        finally:
            self._done += 1

    def begin(self, statement: str) -> None:
        """Opens the transaction (called by the engine's ``begin`` event, before its first statement).

        ``BEGIN`` (a reader's: it takes no lock, it cannot wait) is only remembered: it runs on the
        driver's thread together with the first statement, one hop instead of two. ``BEGIN
        IMMEDIATE`` on an inline connection (the writer) is first tried right here with no busy
        wait, which succeeds unless another process holds the write lock (``okno worker`` on the
        same file, a CLI command); only then does it go to the driver's thread and wait there up to
        ``busy_timeout`` as before. Anything else goes to the driver's thread."""
        if statement == "BEGIN" and not self.inline_in_transaction:
            self.pending_begin = statement
            return
        conn = self._connection._conn
        if self.inline_in_transaction and self.thread_idle:
            try:
                if self._restore_wait is None:
                    self._restore_wait = f"PRAGMA busy_timeout={int(conn.execute('PRAGMA busy_timeout').fetchone()[0])}"
                if _begin_without_waiting(conn, statement, self._restore_wait):
                    return
            except Exception as error:
                self._handle_exception(error)
            self._call(_begin_patiently, conn, statement, self._restore_wait)
            return
        self._call(_begin, conn, statement)

    async def read_in_place(self, operation: str, parameters: Any) -> tuple | None:
        """A reader's ``SELECT`` inside its transaction, run on this thread while it stays short:
        None when it was cut off (more than :data:`READ_STEPS` steps of SQLite's engine, counted
        over the whole statement, or a lock to wait for) and has to run on the driver's thread
        after all. Its first
        :data:`READ_ROWS` rows come from here, any more from the driver's thread."""
        conn = self._connection._conn
        if self.pending_begin is not None:  # deferred: takes no lock, cannot wait
            _begin(conn, self.pending_begin)
            self.pending_begin = None
        if not conn.in_transaction:
            return None
        if self._restore_wait is None:
            self._restore_wait = f"PRAGMA busy_timeout={int(conn.execute('PRAGMA busy_timeout').fetchone()[0])}"
        cursor = conn.cursor()
        conn.execute("PRAGMA busy_timeout=0")
        conn.set_progress_handler(_cut_off, READ_STEPS)
        try:
            if parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            description = cursor.description
            rows = cursor.fetchmany(READ_ROWS) if description else None
        except sqlite3.OperationalError as error:
            cursor.close()
            code = getattr(error, "sqlite_errorcode", 0) & 0xFF
            if code in (sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_BUSY):
                return None  # a read-only statement cut off: its transaction and snapshot go on
            raise
        except BaseException:
            cursor.close()
            raise
        finally:
            conn.set_progress_handler(None, 0)
            conn.execute(self._restore_wait)
        outcome = description, rows, cursor.rowcount, cursor.lastrowid
        if rows is not None and len(rows) == READ_ROWS:
            rows += await self.on_thread(_fetch_rest, cursor)
        else:
            cursor.close()
        return outcome

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self.pending_begin is not None:  # aiosqlite's own cursor: BEGIN first, on its own
            begin, self.pending_begin = self.pending_begin, None
            self._call(_begin, self._connection._conn, begin)
        return super().cursor(server_side)

    def commit(self) -> None:
        self.pending_begin = None
        if self._connection._connection is not None and self._connection._conn.in_transaction:
            self._call(_commit, self._connection._conn)

    def rollback(self) -> None:
        self.pending_begin = None
        # ``in_transaction`` only reads SQLite's autocommit flag; the connection's thread is idle
        # between statements (the execute mutex), so reading it here is safe
        connection = self._connection
        if connection._connection is None or not connection._conn.in_transaction:
            return
        if not self.inline_in_transaction and self.thread_idle:
            # a reader's: ending a read transaction only lets go of its WAL snapshot (no I/O, no
            # lock to wait for), cheaper here than a round trip to the driver's thread
            try:
                connection._conn.rollback()
            except Exception as error:
                self._handle_exception(error)
            return
        self._call(_rollback, connection._conn)

    def _call(self, function: Any, *args: Any) -> None:
        try:
            await_(self.on_thread(function, *args))
        except Exception as error:
            self._handle_exception(error)


def _is_select(operation: str) -> bool:
    return operation.lstrip()[:6].upper() == "SELECT"


def _cut_off() -> int:
    return 1  # SQLite's progress handler: interrupt the statement


def _fetch_rest(cursor: sqlite3.Cursor) -> list:
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _begin(conn: sqlite3.Connection, statement: str) -> None:
    """A transaction already open here was begun by a call whose caller was cancelled while it
    waited on the driver's thread (a BEGIN IMMEDIATE waiting for the lock): nobody owns it."""
    if conn.in_transaction:
        conn.rollback()
    conn.execute(statement)


def _commit(conn: sqlite3.Connection) -> None:
    conn.commit()


def _rollback(conn: sqlite3.Connection) -> None:
    conn.rollback()


def _begin_without_waiting(conn: sqlite3.Connection, statement: str, restore_wait: str) -> bool:
    """``statement`` (``BEGIN IMMEDIATE``) on this thread with no busy wait: False when another
    connection holds the lock it needs (SQLITE_BUSY), so the caller waits for it elsewhere;
    ``restore_wait`` (``PRAGMA busy_timeout=…``) puts the connection's own wait back."""
    if conn.in_transaction:  # see _begin
        conn.rollback()
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        conn.execute(restore_wait)
    return True


def _begin_patiently(conn: sqlite3.Connection, statement: str, restore_wait: str) -> None:
    """On the driver's thread: ``statement`` (``BEGIN IMMEDIATE``) while another process holds
    the write lock (``okno worker`` beside ``okno serve`` on one file, a CLI command). Tried again
    every :data:`LOCK_POLL_SECONDS` with no busy wait, for as long as the connection's own
    ``busy_timeout`` (``restore_wait``), then it fails as SQLite's own wait fails ("database is
    locked"). SQLite's busy handler sleeps 1, 2, 5, 10 … up to 100 ms between its tries, so two
    processes that each take the lock many times a second lose most of it to those sleeps (the
    other process's lock is usually free again within a millisecond); here the waiter takes it
    within ~0.3 ms of its release."""
    if conn.in_transaction:  # see _begin
        conn.rollback()
    deadline = time.monotonic() + int(restore_wait.rpartition("=")[2]) / 1000
    conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.execute(statement)
                return
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(LOCK_POLL_SECONDS)
    finally:
        conn.execute(restore_wait)


async def read_outside_transaction(connection: Any, operation: str, parameters: tuple) -> list[tuple]:
    """One read on a reader's ``AsyncConnection`` with no transaction around it (a single SELECT
    is consistent on its own): one hop to the connection's thread and back with its rows, without
    SQLAlchemy's BEGIN, execution context and result around it (what a fixed read that runs all the
    time, the outbox relay's, pays per call). The caller converts the raw values."""
    raw = await connection.get_raw_connection()
    adapted: OneHopConnection = raw.dbapi_connection  # type: ignore[assignment]
    async with adapted._execute_mutex:
        # counted as the connection's own calls are (``thread_idle``): nothing runs in place on
        # this connection while this read may still be running on its thread
        _, rows, _, _ = await adapted.on_thread(_run_statement, adapted._connection._conn, operation, parameters, False)
    return rows or []


class InPlaceResult:
    """What :func:`execute_in_place` gives back: the rows (plain tuples) and the row count."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: collections.deque, rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Any:
        return iter(self.rows)

    def all(self) -> list:
        return list(self.rows)


def in_place_connection(raw: Any) -> OneHopConnection | None:
    """The pool's connection record ``raw`` (``AsyncConnection.get_raw_connection()``) as one of
    ours that :func:`execute_in_place` can run statements on; None for any other driver."""
    adapted = getattr(raw, "dbapi_connection", None)
    return adapted if isinstance(adapted, OneHopConnection) else None


async def execute_in_place(connection: Any, adapted: OneHopConnection, operation: str, parameters: Any, *, many: bool) -> InPlaceResult | None:
    """``connection.exec_driver_sql(operation, parameters)`` (``connection`` the sync
    ``Connection`` whose DBAPI connection is ``adapted``) without what SQLAlchemy builds around the
    statement: its execution context, its result object and the greenlet the async API runs it in
    (~50 µs of CPU a statement on the group commit's dozen statements, the statement itself a few).
    What it does around the statement stays: the ``before_cursor_execute`` and
    ``after_cursor_execute`` listeners run (statement counters, the remembered chats' watch) and a
    driver error is raised as SQLAlchemy's own (``IntegrityError``…) through the connection's
    handler. The statement runs as :meth:`OneHopCursor._run` runs any: in place inside the
    writer's transaction, else on the driver's thread. None (nothing run) when the engine logs
    its statements or the dialect intercepts its executes: the caller then takes SQLAlchemy's path."""
    if connection._echo or connection.dialect._has_events:  # noqa: SLF001
        return None
    cursor = adapted.cursor()
    events = connection._has_events or connection.engine._has_events  # noqa: SLF001
    if events:
        for listener in connection.dispatch.before_cursor_execute:
            operation, parameters = listener(connection, cursor, operation, parameters, None, many)
    try:
        try:
            await cursor._run(operation, parameters, many=many)
        except Exception as error:
            adapted._handle_exception(error)  # the DBAPI's own error, as the cursor raises it
    except BaseException as error:  # as SQLAlchemy's own execute: a cancelled statement invalidates the connection
        await greenlet_spawn(connection._handle_dbapi_exception, error, operation, parameters, cursor, None)  # noqa: SLF001 (raises)
        raise
    if events:
        for listener in connection.dispatch.after_cursor_execute:
            listener(connection, cursor, operation, parameters, None, many)
    return InPlaceResult(cursor._rows, cursor.rowcount)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        inline = bool(kw.pop(INLINE_IN_TRANSACTION, False))
        # BEGIN, and inline statements, and a reader's ROLLBACK run on the event loop's thread,
        # the rest on the driver's: two threads, never at once (OneHopConnection.thread_idle)
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection, inline_in_transaction=inline)


class OneHopSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopSQLiteDialect")
