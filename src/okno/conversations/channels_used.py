"""The channels a conversation used: where it began (``conversations.channel_id``) and every
other channel a message came in or went out through (``conversation_channels``).

The inbox's channel queues read both, by index, so a customer who began in Telegram and now
writes in WhatsApp is in the WhatsApp queue as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.db import insert_ignoring_duplicates
from okno.models import Conversation, ConversationChannel


async def record_channels_used(session: AsyncSession, used: Iterable[tuple[int, int | None, int | None]], at: datetime) -> None:
    """``used``: (conversation id, the channel it began in, the channel a message just used).
    Writes nothing (no statement) when every message used the conversation's own channel."""
    rows = {
        (conversation_id, channel_id)
        for conversation_id, began_in, channel_id in used
        if channel_id is not None and channel_id != began_in
    }
    if not rows:
        return
    table = ConversationChannel.__table__
    statement = insert_ignoring_duplicates(table, session.bind.dialect.name, ["conversation_id", "channel_id"])
    await session.execute(statement, [{"conversation_id": c, "channel_id": ch, "first_used_at": at} for c, ch in sorted(rows)])


def used_channel(channel_id: int) -> ColumnElement[bool]:
    """Conversations that used ``channel_id``: began in it or had a message through it."""
    others = select(ConversationChannel.conversation_id).where(ConversationChannel.channel_id == channel_id)
    return or_(Conversation.channel_id == channel_id, Conversation.id.in_(others))
