"""Record events in the caller's transaction; the relay publishes them only after commit.

An event is either a typed event (an :class:`~okno.bus.catalog.EventType` instance) or a topic
with its payload; both are checked against the catalogue before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.catalog import EventType, check_event
from okno.kit.bulk import BulkInsert
from okno.kit.db_wake import request_wake
from okno.kit.time import utcnow
from okno.models import OutboxEvent

Recordable = EventType | tuple[str, dict[str, Any]]
_INSERT = BulkInsert(OutboxEvent.__table__, ("topic", "payload", "created_at", "attempts"))


async def record_event(session: AsyncSession, event: EventType | str, payload: dict[str, Any] | None = None) -> None:
    """``record_event(session, TeamChanged(team_id=7))`` or ``record_event(session, "team.changed", {...})``."""
    await record_events(session, [event if isinstance(event, EventType) else (event, payload or {})])


async def record_events(session: AsyncSession, events: Iterable[Recordable]) -> None:
    now = utcnow()
    rows = []
    for event in events:
        topic, payload = (event.topic, event.payload()) if isinstance(event, EventType) else event
        check_event(topic, payload)
        rows.append((topic, payload, now, 0))
    if rows:
        await _INSERT.run(session, rows)
        request_wake(session, "relay")
