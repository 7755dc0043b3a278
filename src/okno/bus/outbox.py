"""Record events in the caller's transaction; the relay publishes them only after commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.db_wake import request_wake
from okno.kit.time import utcnow
from okno.models import OutboxEvent


async def record_event(session: AsyncSession, topic: str, payload: dict[str, Any]) -> None:
    await record_events(session, [(topic, payload)])


async def record_events(session: AsyncSession, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
    now = utcnow()
    rows = [{"topic": topic, "payload": payload, "created_at": now, "attempts": 0} for topic, payload in events]
    if rows:
        await session.execute(insert(OutboxEvent.__table__), rows)
        request_wake(session, "relay")
