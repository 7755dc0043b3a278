"""Migration 0026_inbox_live adds ``ix_conversations_status_team_assignee`` (the live row's total
and the counters' grouped status read, from the index alone) and takes it away going down."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from okno.kit.migrate import upgrade_to_head
from tests.migration_steps import down_then_up, head_revision, upgrade_to

INDEX = "ix_conversations_status_team_assignee"


async def _indexes(engine) -> dict[str, list[str]]:  # noqa: ANN001
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: {i["name"]: i["column_names"] for i in inspect(c).get_indexes("conversations")})


async def _steps(url: str) -> tuple[dict, dict, str | None, str | None, dict]:
    engine = create_async_engine(url)
    try:
        await upgrade_to(engine, "0025_inbox")
        before = await _indexes(engine)
        await upgrade_to_head(engine)
        after = await _indexes(engine)
        down, up = await down_then_up(engine, "0025_inbox")
        return before, after, down, up, await _indexes(engine)
    finally:
        await engine.dispose()


def test_the_migration_adds_the_index_and_goes_down_and_up(fresh_database_url: str) -> None:
    before, after, down, up, again = asyncio.run(_steps(fresh_database_url))
    assert INDEX not in before
    assert after[INDEX] == ["status", "team_id", "assignee_id"]
    assert (down, up) == ("0025_inbox", head_revision())
    assert again[INDEX] == ["status", "team_id", "assignee_id"]
