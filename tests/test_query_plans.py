"""Hot-path lookups must be index searches, whatever the table size."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from okno.conversations.inbox import _search_filter
from okno.conversations.threading import thread_lookup
from okno.customers.identities import IdentityKey
from okno.customers.identity_index import key_condition
from okno.kit.db import create_oneoff_engine
from okno.models import Conversation, Identity


def _plan(db_path: str, statement: object) -> str:
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(db_path) as conn:
        return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def _plan_bound(db_path: str, statement: object) -> str:
    """As :func:`_plan`, with the values bound (blind indexes are bytes: no literal form)."""
    compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup]
    with sqlite3.connect(db_path) as conn:
        return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {compiled.string}", params))


def test_identity_lookup_searches_the_kind_value_index(sqlite_url: str) -> None:
    """Through the blind index: one index search per kind, whatever the keys."""
    keys = [IdentityKey("phone", f"+7916000000{i}") for i in range(5)] + [IdentityKey("email", "a@b.ru"), IdentityKey("telegram", "42")]
    plan = _plan_bound(sqlite_url.split("///", 1)[1], select(Identity.customer_id).where(key_condition(keys)))
    assert "SCAN identities" not in plan
    assert plan.count("(kind=? AND value_index=?)") == 3, plan


async def test_name_search_uses_the_trigram_index_on_postgresql(postgres_url: str) -> None:
    """``ILIKE '%петр%'`` is served by ``ix_customers_name_trgm`` (migration 0006), not a scan
    of every customer; with sequential scans priced out, a plan that can't use the index
    would still show a scan of ``customers``."""
    engine = create_oneoff_engine(postgres_url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            assert await session.scalar(text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_customers_name_trgm'")) == 1
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            query = await _search_filter(session, select(Conversation.id), "Петр")
            plan = "\n".join((await session.execute(text("EXPLAIN " + _literal(query)))).scalars())
    finally:
        await engine.dispose()
    assert "ix_customers_name_trgm" in plan, plan
    assert "Seq Scan on customers" not in plan, plan


def _literal(statement: object) -> str:
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_thread_lookup_searches_the_channel_thread_index(sqlite_url: str) -> None:
    plan = _plan(sqlite_url.split("///", 1)[1], thread_lookup({(1, "<root-1@mail.example>"), (1, "call-7"), (2, "T-1")}))
    assert "SCAN conversations" not in plan
    assert "SEARCH conversations USING INDEX ix_conversations_thread" in plan, plan


async def test_thread_lookup_searches_the_channel_thread_index_on_postgresql(postgres_url: str) -> None:
    engine = create_oneoff_engine(postgres_url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            query = thread_lookup({(1, "<root-1@mail.example>"), (1, "call-7"), (2, "T-1")})
            plan = "\n".join((await session.execute(text("EXPLAIN " + _literal(query)))).scalars())
    finally:
        await engine.dispose()
    assert "ix_conversations_thread" in plan, plan
