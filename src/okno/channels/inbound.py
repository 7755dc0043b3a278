"""Durable raw inbound items, deduplicated by (channel, provider id), staged in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from okno.channels.base import InboundMessage, InboundStatus
from okno.kit.db import insert_ignoring_duplicates
from okno.kit.time import utcnow
from okno.models import InboundItem


@dataclass(frozen=True)
class Accepted:
    stored: int
    duplicates: int


def raw_text(raw: bytes) -> str:
    """The request body as storable text (invalid UTF-8 and NUL, which PostgreSQL refuses, replaced)."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


async def stage_items(
    conn: AsyncConnection | AsyncSession, channel_id: int, items: list[InboundMessage | InboundStatus], raw: bytes
) -> Accepted:
    """Inserts within the caller's transaction; a key seen before is counted as a duplicate."""
    dialect = conn.bind.dialect.name if isinstance(conn, AsyncSession) else conn.dialect.name
    stmt = insert_ignoring_duplicates(InboundItem.__table__, dialect, ["channel_id", "provider_id"]).returning(InboundItem.id)
    text = raw_text(raw)
    now = utcnow()
    stored = 0
    for item in items:
        result = await conn.execute(
            stmt,
            {
                "channel_id": channel_id,
                "provider_id": item.provider_id,
                "item": item.model_dump(mode="json"),
                "raw": text,
                "status": "pending",
                "received_at": now,
            },
        )
        stored += result.first() is not None
    return Accepted(stored=stored, duplicates=len(items) - stored)
