"""Hot bulk inserts handed to the driver as one ``executemany`` of parameter tuples.

``session.execute(insert(table), rows)`` costs, for every row, SQLAlchemy's parameter assembly
(``construct_params``: a dict per row, defaults looked up, each value's type processor found and
called through the compiled statement's bookkeeping) before the driver sees a value. On the
webhook path that is most of the cost of a timeline or outbox row. A :class:`BulkInsert` names
its columns once, compiles its ``INSERT`` once per dialect (placeholders in column order) and
keeps each column's bind processor, so a batch is its values processed column by column and one
``exec_driver_sql`` (:func:`driver_sql`: on okno's SQLite driver, straight to the driver): the
same SQL, the same values as SQLAlchemy would send (the column types' own processors: sealing
with AES-GCM, UTC datetimes, JSON), the same transaction.

Columns left out take their scalar Python default (``default=0``) or NULL; a column left out
whose default is computed per row (``default=utcnow``, a blind index) is refused when the insert
is declared, so nothing is silently stored without it. ``None`` is stored as SQL NULL, as when
``insert(table)`` leaves the column out (a JSON column's own processor would write ``'null'``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

from sqlalchemy import DateTime, LargeBinary, Table, TypeDecorator, bindparam, column, insert, table as lightweight_table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from okno.kit.sqlite_driver import OneHopConnection, execute_in_place, in_place_connection


# the parameters one SQLite statement takes (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32, 999 before)
_SQLITE_MAX_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


@dataclass(frozen=True)
class _Compiled:
    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]  # per given column
    constants: tuple[Any, ...]  # the left-out columns' defaults, already processed
    instants: frozenset[int] = frozenset()  # the given datetime columns (their text depends on the value alone)
    # (index, processor of a list of values) of given columns whose type processes many values at
    # once (``bulk_bind_processor``: sealed columns draw their nonces once per batch)
    batches: tuple[tuple[int, Callable[[list[Any]], list[Any]]], ...] = ()


class BulkInsert:
    """``INSERT INTO table (columns…) VALUES (…)`` for many rows at once, in the caller's transaction."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        unknown = [name for name in self.columns if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
        self._defaults: list[tuple[str, Any]] = []
        for col in table.c:
            if col.name in self.columns or col.default is None:
                continue  # given, or left to the database (server default, autoincrement, NULL)
            if not col.default.is_scalar:
                raise ValueError(f"{table.name}.{col.name} has a per-row default: name it among the columns")
            self._defaults.append((col.name, col.default.arg))
        self._compiled: dict[str, _Compiled] = {}
        scalar = {col.name: col.default.arg for col in table.c if col.default is not None and col.default.is_scalar}
        self._names_and_defaults = tuple((name, scalar.get(name)) for name in self.columns)

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is not None:
            return compiled
        names = [*self.columns, *(name for name, _ in self._defaults)]
        types = {name: self.table.c[name].type for name in names}
        # a lightweight table of just these columns: no defaults added, no implicit RETURNING
        target = lightweight_table(self.table.name, *(column(name, types[name]) for name in names), schema=self.table.schema)
        statement = insert(target).values({name: bindparam(name, type_=types[name]) for name in names})
        form = statement.compile(dialect=dialect)
        if form.positiontup is None or list(form.positiontup) != names:  # placeholders not in column order
            raise RuntimeError(f"{dialect.name}: cannot bind {self.table.name}'s insert by position")
        processors = [driver_bind_processor(types[name], dialect) for name in names]
        given = len(self.columns)
        constants = tuple(
            processor(value) if processor is not None else value
            for processor, (_, value) in zip(processors[given:], self._defaults, strict=True)
        )
        instants = frozenset(i for i, name in enumerate(self.columns) if isinstance(types[name], DateTime) or _impl_is(types[name], DateTime))
        batches = tuple(
            (index, types[name].bulk_bind_processor(dialect))
            for index, name in enumerate(self.columns)
            if hasattr(types[name], "bulk_bind_processor")
        )
        per_value = tuple(None if any(index == i for i, _ in batches) else p for index, p in enumerate(processors[:given]))
        compiled = _Compiled(form.string, per_value, constants, instants, batches)
        self._compiled[dialect.name] = compiled
        return compiled

    async def run(self, session: AsyncSession, rows: Iterable[Sequence[Any]]) -> int:
        """Inserts ``rows`` (values in :attr:`columns` order); how many went in."""
        compiled = self._compile(session.bind.dialect)  # driver_sql finds the connection (and flushes) itself
        processed = _processed(rows, compiled.processors, compiled.constants, compiled.instants, compiled.batches)
        if processed:
            await driver_sql(session, compiled.sql, processed)
        return len(processed)

    async def run_returning_sqlite(self, session: AsyncSession, rows: Sequence[Sequence[Any]], tail: str) -> list[Any]:
        """SQLite only: the rows as multi-row ``INSERT … VALUES (…), (…) <tail>`` statements (as
        many rows per statement as SQLite takes parameters), where ``tail`` is e.g. ``ON CONFLICT
        (…) DO NOTHING RETURNING …``; the rows returned (SQLite returns no rows from an executemany)."""
        dialect = session.bind.dialect
        if dialect.name != "sqlite":
            raise RuntimeError("run_returning_sqlite is SQLite's path")
        compiled = self._compile(dialect)
        processed = _processed(rows, compiled.processors, compiled.constants, compiled.instants, compiled.batches)
        head, values = compiled.sql.split(" VALUES ", 1)
        per_statement = max(_SQLITE_MAX_VARIABLES // (len(compiled.processors) + len(compiled.constants)), 1)
        returned: list[Any] = []
        for start in range(0, len(processed), per_statement):
            chunk = processed[start : start + per_statement]
            sql = f"{head} VALUES {', '.join([values] * len(chunk))} {tail}"
            result = await driver_sql(session, sql, tuple(chain.from_iterable(chunk)))
            returned.extend(result.all())
        return returned

    async def run_dicts(self, session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
        """:meth:`run` for rows given as mappings; a column a row leaves out takes its scalar
        default, else NULL."""
        names = self._names_and_defaults
        return await self.run(session, [[row.get(name, default) for name, default in names] for row in rows])


async def driver_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection for ``exec_driver_sql``, after what ``session.execute`` would do
    first (autoflush: the same order of writes). Remembered for the session's transaction:
    ``AsyncSession.connection()`` spawns a greenlet and looks its proxy up on every call (a
    webhook group asks eight times)."""
    return (await _driver(session))[0]


async def driver_sql(session: AsyncSession, sql: str, parameters: Any) -> Any:
    """``(await driver_connection(session)).exec_driver_sql(sql, parameters)`` (a list of
    parameter tuples: an executemany); its rows iterate as tuples, ``.all()`` and ``.rowcount``
    as on SQLAlchemy's result. On okno's SQLite driver the statement goes to the driver directly
    (``kit.sqlite_driver.execute_in_place``: the same statement, listeners and errors, without
    SQLAlchemy's per-statement machinery)."""
    connection, adapted = await _driver(session)
    if adapted is not None:
        result = await execute_in_place(connection.sync_connection, adapted, sql, parameters, many=isinstance(parameters, list))
        if result is not None:
            return result
    return await connection.exec_driver_sql(sql, parameters)


async def _driver(session: AsyncSession) -> tuple[AsyncConnection, OneHopConnection | None]:
    """The session's connection and, on okno's SQLite driver, its DBAPI connection."""
    sync = session.sync_session
    if not sync._is_clean():  # noqa: SLF001 (what flush() asks first; the public new/dirty/deleted build sets: ~4 µs)
        await session.flush()
    transaction = sync.get_transaction()
    known = session.info.get(_CONNECTION)
    if known is not None and transaction is not None and known[0] is transaction:
        return known[1], known[2]
    connection = await session.connection()
    # the pool's record of the connection just checked out (a property read: it is connected)
    adapted = in_place_connection(connection.sync_connection.connection) if connection.dialect.name == "sqlite" else None
    session.info[_CONNECTION] = (sync.get_transaction(), connection, adapted)
    return connection, adapted


_CONNECTION = "okno.bulk.connection"  # (the session's transaction, its AsyncConnection, its OneHopConnection or None)


def driver_bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The type's own bind processor, except on SQLite a binary column's last step: wrapping the
    bytes in ``sqlite3.Binary`` (a ``memoryview``), which the driver binds as the same BLOB as the
    bytes themselves. For a sealed column that leaves its own ``process_bind_param`` (the seal)."""
    if dialect.name == "sqlite":
        if isinstance(type_, LargeBinary):
            return None
        kind = type(type_)
        if (
            isinstance(type_, TypeDecorator)
            and kind.bind_processor is TypeDecorator.bind_processor
            and kind.load_dialect_impl is TypeDecorator.load_dialect_impl
            and type(type_.impl_instance) is LargeBinary
        ):
            return partial(type_.process_bind_param, dialect=dialect)
    return type_._cached_bind_processor(dialect)  # noqa: SLF001


def _impl_is(type_: TypeEngine[Any], kind: type) -> bool:
    return isinstance(type_, TypeDecorator) and isinstance(type_.impl_instance, kind)


def _processed(
    rows: Iterable[Sequence[Any]],
    processors: tuple[Callable[[Any], Any] | None, ...],
    constants: tuple[Any, ...],
    instant_columns: frozenset[int] = frozenset(),
    batches: tuple[tuple[int, Callable[[list[Any]], list[Any]]], ...] = (),
) -> list[tuple[Any, ...]]:
    """The rows' values as the driver takes them, column by column: the rows are transposed once
    (``zip``, in C) and each column goes through its processor in one comprehension, instead of a
    Python loop over every value of every row deciding what to do with it."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return []
    width = len(processors)
    if not all(map(width.__eq__, map(len, rows))):  # (in C: a generator here cost ~0.1 µs a row)
        raise ValueError(f"a row of {next(len(row) for row in rows if len(row) != width)} values for {width} columns")
    columns: list[Any] = list(zip(*rows, strict=True))
    for index, processor in enumerate(processors):
        if processor is None:
            continue
        if index in instant_columns:
            columns[index] = _instants(columns[index], processor)
        else:  # None stays SQL NULL (a JSON column's processor would write 'null')
            columns[index] = [None if value is None else processor(value) for value in columns[index]]
    for index, batch in batches:  # None stays SQL NULL here too
        given = [value for value in columns[index] if value is not None]
        if given:
            processed = iter(batch(given))
            columns[index] = [None if value is None else next(processed) for value in columns[index]]
    if constants:
        columns.extend([constant] * len(rows) for constant in constants)
    return list(zip(*columns, strict=True))


_NOTHING = object()


def _instants(values: Sequence[Any], processor: Callable[[Any], Any]) -> list[Any]:
    """A datetime column's values processed: a group's rows share a few instants (the same
    object, the same text), so each run of one object is processed once."""
    out: list[Any] = []
    last, text = _NOTHING, None
    for value in values:
        if value is not last:
            last, text = value, (None if value is None else processor(value))
        out.append(text)
    return out
