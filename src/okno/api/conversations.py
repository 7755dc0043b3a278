from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from okno.api.access import OperatorScope
from okno.api.deps import Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.message_forms import OPENAPI_BODY, MessageRequest, message_request, template_choice
from okno.api.pagination import Limit
from okno.api.read_audit import AuditedReads
from okno.api.schemas import ConversationOut, ConversationStartIn, ConversationStartOut, MessageOut
from okno.conversations.queries import conversations_page, get_conversation, messages_page
from okno.conversations.mentions import mention_operators
from okno.conversations.replies import RichContent, post_operator_message
from okno.conversations.starting import start_conversation
from okno.customers.queries import get_customer
from okno.reviews.replies import delete_reply_at_provider, plan_reply_deletion, record_reply_deleted
from okno.telephony.click_to_call import place_call, plan_call

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("")
async def list_conversations(
    scope: OperatorScope,
    reads: AuditedReads,
    session: ReadSession,
    customer_id: int | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    rows = await conversations_page(session, customer_id=customer_id, status=status, before_id=before_id, limit=limit, scope=scope)
    reads.saw("read.conversation_list", customer_ids=sorted({c.customer_id for c in rows}), conversation_ids=[c.id for c in rows])
    return {"items": [ConversationOut.model_validate(c) for c in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.get("/{conversation_id}", response_model=ConversationOut)
async def one_conversation(conversation_id: int, scope: OperatorScope, session: ReadSession, reads: AuditedReads) -> ConversationOut:
    conversation = await get_conversation(session, conversation_id, scope=scope)
    reads.saw("read.conversation", customer_ids=conversation.customer_id, conversation_ids=conversation.id)
    return ConversationOut.model_validate(conversation)


@router.get("/{conversation_id}/messages")
async def conversation_messages(
    conversation_id: int, scope: OperatorScope, session: ReadSession, reads: AuditedReads, after_id: int | None = None, limit: Limit = 200
) -> dict:
    rows = await messages_page(session, conversation_id, after_id=after_id, limit=limit, scope=scope)
    reads.saw("read.conversation_messages", customer_ids=sorted({m.customer_id for m in rows}), conversation_ids=conversation_id)
    return {"items": [MessageOut.model_validate(m) for m in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.post("", response_model=ConversationStartOut, status_code=201, summary="Start a conversation: okno writes first")
async def open_conversation(
    body: ConversationStartIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx
) -> ConversationStartOut:
    await get_customer(session, body.customer_id, scope=scope)
    rich = RichContent(template=template_choice(body.template), channels=ctx.channels, blobs=ctx.files.blobs)
    conversation, message = await start_conversation(
        session, customer_id=body.customer_id, channel_id=body.channel_id, author_id=operator.id, text=body.text, rich=rich,
        interactive=body.interactive,
    )
    return ConversationStartOut(conversation=ConversationOut.model_validate(conversation), message=MessageOut.model_validate(message))


@router.post(
    "/{conversation_id}/messages", response_model=MessageOut, status_code=201, openapi_extra=OPENAPI_BODY,
    summary="Reply or add a note: JSON, or multipart/form-data with text and files",
)
async def write_message(
    conversation_id: int,
    operator: CurrentOperator,
    scope: OperatorScope,
    request: Annotated[MessageRequest, Depends(message_request)],  # read before the write transaction opens
    session: WriteSession,
    ctx: Ctx,
) -> MessageOut:
    body = request.body
    _visible = await get_conversation(session, conversation_id, scope=scope)  # held: the reply finds it in the identity map
    message = await post_operator_message(
        session,
        conversation_id=conversation_id,
        author_id=operator.id,
        text=body.text,
        channel_id=body.channel_id,
        internal=body.internal,
        interactive=body.interactive,
        rich=RichContent(uploads=request.uploads, template=request.template, blobs=ctx.files.blobs, channels=ctx.channels),
    )
    if body.mentions:
        await mention_operators(session, message, body.mentions, by=operator.id)
    return MessageOut.model_validate(message)



class CallIn(BaseModel):
    channel_id: int | None = None  # default: the conversation's channel, else a telephone channel of its team


@router.post("/{conversation_id}/call", status_code=202, summary="Click-to-call: ring my extension, then the customer")
async def call_customer(
    conversation_id: int, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx, body: CallIn | None = None
) -> dict:
    plan = await plan_call(session, ctx.channels, scope=scope, operator=operator, conversation_id=conversation_id, channel_id=body.channel_id if body else None)
    await place_call(plan, ctx.http)
    return {"status": "requested", "channel_id": plan.channel.id, "extension": plan.extension}


@router.delete("/{conversation_id}/review-reply", summary="Delete the public reply to the conversation's review at the provider")
async def delete_review_reply(conversation_id: int, operator: CurrentOperator, scope: OperatorScope, session: ReadSession, ctx: Ctx) -> dict:
    plan = await plan_reply_deletion(session, ctx.channels, scope=scope, conversation_id=conversation_id)
    await delete_reply_at_provider(plan, ctx.http)
    async with ctx.db.transaction() as write:
        record_reply_deleted(write, plan, actor_id=operator.id)
    return {"status": "deleted", "review_id": plan.review_id}
