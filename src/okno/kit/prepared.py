"""A Core write statement handed to the driver as one ``executemany`` of parameter tuples.

``session.execute(statement, [dict, ...])`` builds, per row, SQLAlchemy's parameter dict and
looks each value's processor up through the compiled statement before the driver sees it; for a
webhook group's handful of rows that bookkeeping costs more than the statement. A
:class:`PreparedWrite` compiles its statement once per dialect (SQLAlchemy renders it: the SQL is
not written twice), keeps the bind processors of the parameters in placeholder order and sends
each batch as tuples through :func:`okno.kit.bulk.driver_sql` (on okno's SQLite driver straight to the
driver), in the session's transaction.

Only statements whose every parameter is either given per row or fixed in the statement (a
literal SQLAlchemy turned into a bind) qualify: no expanding ``IN``, no per-row Python defaults
(``onupdate``): a statement that has them is refused when first compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from okno.kit.bulk import driver_bind_processor, driver_sql


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # per placeholder: the row's value at this index, or (index None) the statement's own value
    slots: tuple[tuple[int | None, Any, Callable[[Any], Any] | None], ...]


class PreparedWrite:
    """``statement`` run for many rows at once; ``names`` are its bind parameters in row order."""

    def __init__(self, statement: Executable, names: Sequence[str]) -> None:
        self.statement = statement
        self.names = tuple(names)
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is not None:
            return compiled
        form = self.statement.compile(dialect=dialect)
        if form.positiontup is None:
            raise RuntimeError(f"{dialect.name}: cannot bind {self.statement} by position")
        slots = []
        for name in form.positiontup:
            bind = form.binds[name]
            if bind.expanding or bind.callable is not None:
                raise RuntimeError(f"{name}: an expanding or computed parameter cannot be prepared")
            processor = driver_bind_processor(bind.type, dialect)  # as BulkInsert's rows: the driver's own binding
            if name in self.names:
                slots.append((self.names.index(name), None, processor))
            elif bind.required or bind.value is None:
                raise RuntimeError(f"{name}: a parameter neither given nor fixed in the statement")
            else:  # a literal of the statement ("name = ''"): processed once
                slots.append((None, processor(bind.value) if processor is not None else bind.value, None))
        missing = set(self.names) - set(form.positiontup)
        if missing:
            raise RuntimeError(f"the statement takes no parameter {', '.join(sorted(missing))}")
        compiled = self._compiled[dialect.name] = _Compiled(form.string, tuple(slots))
        return compiled

    async def run(self, session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
        """Runs the statement once per row (values in :attr:`names` order); nothing when no rows."""
        if not rows:
            return
        compiled = self._compile(session.bind.dialect)
        slots = compiled.slots
        processed = [
            tuple(
                fixed if index is None else (row[index] if processor is None or row[index] is None else processor(row[index]))
                for index, fixed, processor in slots
            )
            for row in rows
        ]
        await driver_sql(session, compiled.sql, processed)
