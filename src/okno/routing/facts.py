"""What routing and automation rules are evaluated against, read from the database: one reader
for both, so a condition means the same in either kind of rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.conversations.catalog import unfinished_status_keys
from okno.models import Conversation, Customer, Direction, Message
from okno.routing.contacts import contact_counts
from okno.routing.matching import Facts


async def read_facts(
    session: AsyncSession, conversation: Conversation, event: Event, *, channel_kind: str | None, windows: set[int]
) -> Facts:
    attributes = await session.scalar(select(Customer.attributes).where(Customer.id == conversation.customer_id))
    text = await session.scalar(
        select(Message.text)
        .where(Message.conversation_id == conversation.id, Message.direction == Direction.inbound.value)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return Facts(
        channel_kind=channel_kind,
        channel_id=conversation.channel_id,
        customer=attributes or {},
        text=text or "",
        reason=conversation.reason,
        priority=conversation.priority,
        at=event.created_at,
        status=conversation.status,
        contact_counts=await contact_counts(session, conversation, windows, at=event.created_at),
    )


async def conversations_of(session: AsyncSession, event: Event) -> list[int]:
    """The conversation an event is about; for a customer's event (customer.attributes_changed),
    the customer's unfinished conversations."""
    if "conversation_id" in event.payload:
        return [event.payload["conversation_id"]]
    return list(
        await session.scalars(
            select(Conversation.id).where(
                Conversation.customer_id == event.payload["customer_id"], Conversation.status.in_(unfinished_status_keys())
            )
        )
    )
