"""Count the SQL statements a block of code sends to the database (Zulip's
``assert_database_query_count``, for our engines).

Every statement a cursor executes on the application's engines (the SQLite writer and reader, or
the one PostgreSQL pool) is recorded through SQLAlchemy's ``before_cursor_execute`` event:
``executemany`` counts once, as it is one round trip; transaction control that SQLAlchemy issues
through the cursor (SQLite's ``BEGIN IMMEDIATE``) counts too, because it is work the database does.

``uncached`` lists the statements SQLAlchemy could not cache (no cache key: an element of the
statement does not declare its state), compiled again on every execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import CacheStats

from okno.kit.db import Database


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    uncached: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def listing(self) -> str:
        return "\n".join(f"{n:3}. {' '.join(s.split())[:160]}" for n, s in enumerate(self.statements, 1))


def _engines(db: Database) -> list[Engine]:
    engines = {id(e.sync_engine): e.sync_engine for e in (db.writer, db.reader)}
    return list(engines.values())


@contextmanager
def count_statements(db: Database) -> Iterator[StatementLog]:
    log = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        log.statements.append(statement)
        if context is not None and getattr(context, "cache_hit", None) is CacheStats.NO_CACHE_KEY:
            log.uncached.append(statement)

    engines = _engines(db)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


@contextmanager
def assert_statement_count(db: Database, expected: int) -> Iterator[StatementLog]:
    """The block sends exactly ``expected`` statements; on failure, lists the ones it sent."""
    with count_statements(db) as log:
        yield log
    assert log.count == expected, f"expected {expected} SQL statements, got {log.count}:\n{log.listing()}"
