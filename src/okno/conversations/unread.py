"""Per operator: which conversations have customer messages he has not seen yet.

Opening a conversation in the window (or ``POST /api/v1/conversations/{id}/read``) stores the id
of its latest message as his read position (``ConversationRead``); the inbox counts the
customer's messages above it. Nothing is shared between operators: a colleague's reading
leaves his markers alone.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.time import utcnow
from okno.models import ConversationRead, Direction, Message


async def mark_read(session: AsyncSession, *, operator_id: int, conversation_id: int) -> int:
    """Move the operator's read position to the conversation's latest message (never back);
    returns the position."""
    latest = int(await session.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation_id)) or 0)
    row = await session.get(ConversationRead, (operator_id, conversation_id), with_for_update=True)
    if row is None:
        session.add(ConversationRead(operator_id=operator_id, conversation_id=conversation_id, last_read_message_id=latest, read_at=utcnow()))
    elif latest > row.last_read_message_id:
        row.last_read_message_id, row.read_at = latest, utcnow()
    else:
        return row.last_read_message_id
    await session.flush()
    return latest


async def unread_counts(session: AsyncSession, *, operator_id: int, conversation_ids: list[int]) -> dict[int, int]:
    """Per conversation (only those with any): the customer's messages above the operator's
    read position; one grouped query over ``ix_messages_conversation``."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        _unread_messages(operator_id, Message.conversation_id, func.count())
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    return {int(conversation_id): int(n) for conversation_id, n in rows}


def unread_of(operator_id: int, conversation_id: ColumnElement[int] | int) -> ScalarSelect[int]:
    """The count ``unread_counts`` gives one conversation (0 when none), as a scalar subquery: a
    column of another statement (the live row reads it with the row's place)."""
    query = _unread_messages(operator_id, func.count()).where(Message.conversation_id == conversation_id)
    return query.correlate(None).scalar_subquery()


def _unread_messages(operator_id: int, *columns: ColumnElement) -> Select:
    """``columns`` over the customer's messages above the operator's read position."""
    read = ConversationRead
    return (
        select(*columns)
        .select_from(Message)
        .outerjoin(read, and_(read.conversation_id == Message.conversation_id, read.operator_id == operator_id))
        .where(Message.direction == Direction.inbound.value, Message.id > func.coalesce(read.last_read_message_id, 0))
    )
