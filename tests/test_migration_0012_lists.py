"""Migration 0012_lists fills ``conversation_channels`` from the messages already stored: the
channels a conversation used besides the one it began in, once each; and it goes down and up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from okno.kit.migrate import alembic_config, current_revision, upgrade_to_head
from tests.conftest import _pg_admin_url, create_pg_database, drop_pg_database


async def _fill_at_0007_then_upgrade(url: str) -> tuple[list[tuple[int, int]], str | None, str | None]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0007"))
        now = "'2026-12-06 10:00:00+00'"
        async with engine.begin() as conn:
            for ch in (1, 2, 3):
                await conn.execute(text(
                    f"INSERT INTO channels (id, kind, name, config_sealed, is_active, health, created_at, updated_at) VALUES ({ch}, 'api', 'c{ch}', '', true, 'ok', {now}, {now})"
                ))
            await conn.execute(text(f"INSERT INTO customers (id, name, attributes, created_at, updated_at) VALUES (1, 'A', '{{}}', {now}, {now})"))
            for conv, began in ((1, 1), (2, 3)):
                await conn.execute(text(
                    "INSERT INTO conversations (id, customer_id, channel_id, status, priority, created_at, updated_at, tags, required_skills, medium) "
                    f"VALUES ({conv}, 1, {began}, 'open', 1, {now}, {now}, '[]', '[]', 'chat')"
                ))
            # conversation 1 began in channel 1, then used channel 2 twice and once no channel; 2 stayed in 3
            for mid, conv, ch in ((1, 1, "1"), (2, 1, "2"), (3, 1, "2"), (4, 1, "NULL"), (5, 2, "3")):
                await conn.execute(text(
                    "INSERT INTO messages (id, conversation_id, customer_id, channel_id, direction, text, attachments, status, kind, created_at, status_updated_at) "
                    f"VALUES ({mid}, {conv}, 1, {ch}, 'in', 'x', '[]', 'received', 'message', {now}, {now})"
                ))
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            rows = [tuple(r) for r in (await conn.execute(text("SELECT conversation_id, channel_id FROM conversation_channels ORDER BY 1, 2"))).all()]
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0011_widgetproof"))
        down = await current_revision(engine)
        await upgrade_to_head(engine)
        return rows, down, await current_revision(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_backfills_the_channels_conversations_used(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url, cleanup = f"sqlite+aiosqlite:///{tmp_path / 'okno.db'}", None
    else:
        admin = _pg_admin_url()
        if not admin:
            pytest.skip("PostgreSQL backend not tested: OKNO_TEST_DATABASE_URL is not set")
        url = create_pg_database(admin)
        cleanup = admin
    try:
        rows, down, up = asyncio.run(_fill_at_0007_then_upgrade(url))
    finally:
        if cleanup:
            drop_pg_database(cleanup, url)
    assert rows == [(1, 2)]
    assert (down, up) == ("0011_widgetproof", ScriptDirectory.from_config(alembic_config()).get_current_head())
