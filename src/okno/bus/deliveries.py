"""Event deliveries that failed: what admins see, and running a parked one again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.relay import PARKED, PENDING
from okno.kit.db_wake import request_wake
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import EventDelivery, OutboxEvent

STATUSES = ("pending", "done", "parked")


async def list_deliveries(session: AsyncSession, *, status: str, after_id: int | None, limit: int) -> list[tuple[EventDelivery, OutboxEvent]]:
    if status not in STATUSES:
        raise Invalid("status must be one of %(statuses)s", statuses=', '.join(STATUSES))
    query = (
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .where(EventDelivery.status == status)
        .order_by(EventDelivery.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(EventDelivery.id > after_id)
    return [(d, e) for d, e in (await session.execute(query)).all()]


async def retry_delivery(session: AsyncSession, delivery_id: int) -> tuple[EventDelivery, OutboxEvent]:
    """A parked delivery goes back to the relay with a fresh set of attempts."""
    delivery = await session.get(EventDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound("%(what)s %(id)s not found", what="event delivery", id=delivery_id)
    if delivery.status != PARKED:
        raise Conflict("event delivery %(delivery_id)s is %(status)s: only a parked delivery is run again", delivery_id=delivery_id, status=delivery.status)
    delivery.status, delivery.attempts, delivery.next_attempt_at, delivery.locked_until = PENDING, 0, utcnow(), None
    await session.flush()
    request_wake(session, "relay")
    event = await session.get(OutboxEvent, delivery.event_id)
    assert event is not None  # deliveries go with their event (ON DELETE CASCADE)
    return delivery, event
