"""A customer typing, where the channel reports it (the website widget's ``typing`` frame).

Ephemeral like operators' presence: published on the operators' live feed (through the same
fan-out, so every process's operators see it) for the customer's latest unfinished conversation,
never stored and never replayed. The browser shows it in the open conversation for
``CUSTOMER_TYPING_SECONDS`` unless another signal renews it; the live stream filters it like any
event about that conversation.
"""

from __future__ import annotations

from sqlalchemy import select

from okno.channels.runtime import AdapterRuntime
from okno.customers.identity_index import is_key
from okno.models import UNFINISHED_TYPES, Conversation, Identity, StatusDefinition
from okno.realtime.operators import PRESENCE_FANOUT, customer_typing

CUSTOMER_TYPING_SECONDS = 6


async def report_customer_typing(runtime: AdapterRuntime, *, kind: str, value: str) -> int | None:
    """Tell operators that the customer with the identity ``kind:value`` is typing; returns the
    conversation it was shown in (None: he has no unfinished conversation yet)."""
    unfinished = select(StatusDefinition.key).where(StatusDefinition.type.in_([t.value for t in UNFINISHED_TYPES]))
    async with runtime.db.reading() as session:
        conversation_id = await session.scalar(
            select(Conversation.id)
            .join(Identity, Identity.customer_id == Conversation.customer_id)
            .where(is_key(kind, value), Conversation.status.in_(unfinished))
            .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
            .limit(1)
        )
    if conversation_id is not None:
        await runtime.fanout.publish(PRESENCE_FANOUT, customer_typing(conversation_id, seconds=CUSTOMER_TYPING_SECONDS))
    return conversation_id
