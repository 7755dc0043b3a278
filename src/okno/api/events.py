"""Event deliveries that failed for admins: which subscriber, which event, why; re-run a parked one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from okno.api.deps import AdminOperator, Ctx, ReadSession, WriteSession
from okno.api.pagination import Limit
from okno.bus.deliveries import list_deliveries, retry_delivery
from okno.models import EventDelivery, OutboxEvent

router = APIRouter(tags=["events"])


class EventDeliveryOut(BaseModel):
    id: int
    event_id: int
    topic: str
    payload: dict[str, Any]
    event_created_at: datetime
    subscriber: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    updated_at: datetime


def _out(delivery: EventDelivery, event: OutboxEvent) -> EventDeliveryOut:
    return EventDeliveryOut(
        id=delivery.id, event_id=event.id, topic=event.topic, payload=event.payload, event_created_at=event.created_at,
        subscriber=delivery.subscriber, status=delivery.status, attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at, last_error=delivery.last_error, updated_at=delivery.updated_at,
    )  # fmt: skip


@router.get("/api/v1/events/deliveries")
async def event_deliveries(
    _: AdminOperator,
    session: ReadSession,
    status: str = Query(default="parked", description="parked (waiting for a person), pending (being retried) or done"),
    after_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    rows = await list_deliveries(session, status=status, after_id=after_id, limit=limit)
    return {"items": [_out(d, e) for d, e in rows]}


@router.post("/api/v1/events/deliveries/{delivery_id}/retry", response_model=EventDeliveryOut)
async def rerun_delivery(delivery_id: int, _: AdminOperator, session: WriteSession, ctx: Ctx) -> EventDeliveryOut:
    delivery, event = await retry_delivery(session, delivery_id)
    ctx.relay.expect_retries()  # this process's relay looks at once (another process's within seconds)
    return _out(delivery, event)
