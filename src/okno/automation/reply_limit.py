"""The limit on automatic replies to one sender by e-mail: at most
``OKNO_AUTO_REPLIES_PER_SENDER_PER_HOUR`` (default 5) of automation's replies to one customer on
one mail channel within an hour. Loop guards catch a machine that says it is one
(``Auto-Submitted``, ``Precedence``, ``List-Id``); this catches one that does not, so two
auto-responders can't answer each other for ever. Chat channels are not limited (a customer
there is a person in a conversation; nothing answers automatically on its own)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.registry import ADAPTERS
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.models import ActorType, Channel, Conversation, Direction, Message

WINDOW = timedelta(hours=1)


async def check_auto_reply_limit(session: AsyncSession, conversation_id: int, limit: int) -> None:
    """Refuses (``Invalid``, which the rule's run records on the timeline) an automatic reply
    to a customer who already got ``limit`` of them on this mail channel within the hour."""
    row = (
        await session.execute(
            select(Conversation.customer_id, Conversation.channel_id, Channel.kind)
            .join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if row is None or (adapter := ADAPTERS.get(row.kind)) is None or adapter.capabilities.medium != "email":
        return
    sent = await session.scalar(
        select(func.count(Message.id)).where(
            Message.customer_id == row.customer_id, Message.channel_id == row.channel_id,
            Message.direction == Direction.outbound.value, Message.actor_type == ActorType.automation.value,
            Message.created_at >= utcnow() - WINDOW,
        )
    )  # fmt: skip
    if (sent or 0) >= limit:
        raise Invalid(
            "not sent: this sender got %(num)s automatic reply by e-mail in the last hour (the limit is %(limit)s, OKNO_AUTO_REPLIES_PER_SENDER_PER_HOUR)",
            plural="not sent: this sender got %(num)s automatic replies by e-mail in the last hour (the limit is %(limit)s, OKNO_AUTO_REPLIES_PER_SENDER_PER_HOUR)", num=sent, limit=limit,
        )
