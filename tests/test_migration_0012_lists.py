"""Migration 0012_lists fills ``conversation_channels`` from the messages already stored: the
channels a conversation used besides the one it began in, once each; and it goes down and up."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from okno.kit.migrate import upgrade_to_head
from tests.migration_steps import down_then_up, head_revision, upgrade_to


async def _fill_at_0007_then_upgrade(url: str) -> tuple[list[tuple[int, int]], str | None, str | None]:
    engine = create_async_engine(url)
    try:
        await upgrade_to(engine, "0007")
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
        down, up = await down_then_up(engine, "0011_widgetproof")
        return rows, down, up
    finally:
        await engine.dispose()


def test_the_migration_backfills_the_channels_conversations_used(fresh_database_url: str) -> None:
    rows, down, up = asyncio.run(_fill_at_0007_then_upgrade(fresh_database_url))
    assert rows == [(1, 2)]
    assert (down, up) == ("0011_widgetproof", head_revision())
