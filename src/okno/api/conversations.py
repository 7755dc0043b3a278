from __future__ import annotations

from fastapi import APIRouter

from okno.api.deps import CurrentOperator, ReadSession, WriteSession
from okno.api.pagination import Limit
from okno.api.schemas import ConversationOut, MessageIn, MessageOut
from okno.conversations.queries import conversations_page, get_conversation, messages_page
from okno.conversations.replies import post_operator_message

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("")
async def list_conversations(
    _: CurrentOperator,
    session: ReadSession,
    customer_id: int | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    rows = await conversations_page(session, customer_id=customer_id, status=status, before_id=before_id, limit=limit)
    return {"items": [ConversationOut.model_validate(c) for c in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.get("/{conversation_id}", response_model=ConversationOut)
async def one_conversation(conversation_id: int, _: CurrentOperator, session: ReadSession) -> ConversationOut:
    return ConversationOut.model_validate(await get_conversation(session, conversation_id))


@router.get("/{conversation_id}/messages")
async def conversation_messages(
    conversation_id: int, _: CurrentOperator, session: ReadSession, after_id: int | None = None, limit: Limit = 200
) -> dict:
    rows = await messages_page(session, conversation_id, after_id=after_id, limit=limit)
    return {"items": [MessageOut.model_validate(m) for m in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.post("/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def write_message(conversation_id: int, body: MessageIn, operator: CurrentOperator, session: WriteSession) -> MessageOut:
    message = await post_operator_message(
        session,
        conversation_id=conversation_id,
        author_id=operator.id,
        text=body.text,
        channel_id=body.channel_id,
        internal=body.internal,
        interactive=body.interactive,
    )
    return MessageOut.model_validate(message)
