from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.access.guards import access_conversation
from okno.conversations.catalog import status_definition
from okno.kit.errors import NotFound
from okno.models import Conversation, Message


async def conversations_page(
    session: AsyncSession, *, customer_id: int | None, status: str | None, before_id: int | None, limit: int, scope: Scope | None = None
) -> list[Conversation]:
    """``scope``: only the conversations that principal may see (None: every one, for okno itself)."""
    query = select(Conversation).order_by(Conversation.id.desc()).limit(limit)
    if scope is not None:
        query = query.where(conversation_visible(scope))
    if customer_id is not None:
        query = query.where(Conversation.customer_id == customer_id)
    if status is not None:
        await status_definition(session, status)  # an unknown key is a 422 naming the known ones
        query = query.where(Conversation.status == status)
    if before_id is not None:
        query = query.where(Conversation.id < before_id)
    return list((await session.scalars(query)).all())


async def get_conversation(session: AsyncSession, conversation_id: int, *, scope: Scope | None = None) -> Conversation:
    if scope is not None:
        return await access_conversation(session, scope, conversation_id)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    return conversation


async def messages_page(
    session: AsyncSession, conversation_id: int, *, after_id: int | None, limit: int, scope: Scope | None = None
) -> list[Message]:
    await get_conversation(session, conversation_id, scope=scope)
    query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id).limit(limit)
    if after_id is not None:
        query = query.where(Message.id > after_id)
    return list((await session.scalars(query)).all())
