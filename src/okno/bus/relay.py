"""Publishes committed outbox rows to the transport, at least once, in order of commit per worker.

On PostgreSQL rows are leased (``next_attempt_at`` pushed ahead, ``SKIP LOCKED``) in a short
transaction so several relays can run; on SQLite (one process) they are simply read. They are
published with no transaction open (handlers open their own), then marked published. A failed publish is retried
with backoff; after ``max_attempts`` the row is parked with its error for an operator to see.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from okno.bus.events import Event, Transport
from okno.kit.db import Database
from okno.kit.time import utcnow
from okno.models import OutboxEvent

LEASE = timedelta(seconds=60)
PARKED = "parked"


class OutboxRelay:
    def __init__(self, db: Database, transport: Transport, *, batch_size: int = 200, max_attempts: int = 10) -> None:
        self.db = db
        self.transport = transport
        self.batch_size = batch_size
        self.max_attempts = max_attempts

    async def drain_once(self) -> int:
        events = await self._lease()
        published: list[int] = []
        failed: dict[int, str] = {}
        for event in events:
            try:
                await self.transport.publish(event)
            except Exception as exc:
                failed[event.id] = f"{type(exc).__name__}: {exc}"
            else:
                published.append(event.id)
        if events:
            await self._settle(published, failed)
        return len(events)

    async def _lease(self) -> list[Event]:
        now = utcnow()
        query = (
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
            .where(
                OutboxEvent.published_at.is_(None),
                or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now),
            )
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
        )
        if self.db.is_sqlite:
            # SQLite is a single-process deployment with one relay: reading is enough, and it
            # leaves the single writer to the webhooks
            async with self.db.reading() as session:
                rows = (await session.execute(query)).all()
        else:
            async with self.db.transaction() as session:
                rows = (await session.execute(query.with_for_update(skip_locked=True))).all()
                if rows:
                    await session.execute(
                        update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows])).values(next_attempt_at=now + LEASE)
                    )
        return [Event(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]

    async def _settle(self, published: list[int], failed: dict[int, str]) -> None:
        now = utcnow()
        async with self.db.transaction() as session:
            if published:
                table = OutboxEvent.__table__  # Core: no ORM bulk-update bookkeeping for a plain UPDATE
                await session.execute(update(table).where(table.c.id.in_(published)).values(published_at=now, last_error=None))
            for event_id, error in failed.items():
                attempts = (
                    await session.execute(select(OutboxEvent.attempts).where(OutboxEvent.id == event_id))
                ).scalar_one() + 1
                parked = attempts >= self.max_attempts
                delay = timedelta(days=36500) if parked else timedelta(seconds=min(2**attempts, 600))
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == event_id)
                    .values(
                        attempts=attempts,
                        last_error=(f"{PARKED}: " if parked else "") + error[:2000],
                        next_attempt_at=now + delay,  # a parked row is never leased again; it waits for a person
                    )
                )
