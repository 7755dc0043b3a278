"""Migration 0024_analytics fills ``report_conversations.channel_kinds`` from the channel rows the
projection already kept (each kind once, whatever the number of channels of that kind), so the
summary's channel share of conversations from before it is what the join gave; it goes down and up."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from okno.kit.migrate import upgrade_to_head
from tests.migration_steps import down_then_up, head_revision, upgrade_to


async def _fill_at_0023_then_upgrade(url: str) -> tuple[dict[int, set[str] | None], str | None, str | None]:
    engine = create_async_engine(url)
    try:
        await upgrade_to(engine, "0023_admin")
        now = "'2026-12-06 10:00:00+00'"
        async with engine.begin() as conn:
            await conn.execute(text(f"INSERT INTO customers (id, name, attributes, created_at, updated_at) VALUES (1, 'A', '{{}}', {now}, {now})"))
            for conv in (1, 2, 3):
                await conn.execute(text(
                    "INSERT INTO conversations (id, customer_id, status, priority, created_at, updated_at, tags, required_skills, medium) "
                    f"VALUES ({conv}, 1, 'open', 1, {now}, {now}, '[]', '[]', 'chat')"
                ))
                await conn.execute(text(
                    "INSERT INTO report_conversations (conversation_id, customer_id, opened_at, responses, resolution_seconds,"
                    " resolution_business_seconds, resolutions, reopened, transferred)"
                    f" VALUES ({conv}, 1, {now}, 0, 0, 0, 0, 0, false)"
                ))
            # 1: WhatsApp, then two API channels; 2: one API channel; 3: no channel row (its channel was deleted)
            for conv, channel, kind in ((1, 5, "whatsapp"), (1, 2, "api"), (1, 3, "api"), (2, 2, "api")):
                await conn.execute(text(
                    f"INSERT INTO report_conversation_channels (conversation_id, channel_id, kind) VALUES ({conv}, {channel}, '{kind}')"
                ))
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT conversation_id, channel_kinds FROM report_conversations"))).all()
        down, up = await down_then_up(engine, "0023_admin")
        return {conv: set(kinds.split(",")) if kinds else None for conv, kinds in rows}, down, up
    finally:
        await engine.dispose()


def test_the_migration_fills_each_conversations_set_of_channel_kinds(fresh_database_url: str) -> None:
    kinds, down, up = asyncio.run(_fill_at_0023_then_upgrade(fresh_database_url))
    assert kinds == {1: {"api", "whatsapp"}, 2: {"api"}, 3: None}
    assert (down, up) == ("0023_admin", head_revision())
