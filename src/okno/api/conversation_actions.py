"""What operators do to a conversation: status, assignment, priority, escalation, snooze."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from okno.access.guards import access_conversation
from okno.api.access import OperatorScope
from okno.api.deps import Ctx, CurrentOperator, WriteSession
from okno.api.schemas import AssignIn, ConversationOut, EscalateIn, PriorityIn, SnoozeIn, StatusChangeIn, UnsnoozeIn
from okno.conversations import lifecycle, snooze, unread
from okno.kit.time import utcnow
from okno.operators.time_zones import snooze_until, zone_of

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post("/{conversation_id}/status", response_model=ConversationOut)
async def change_status(
    conversation_id: int, body: StatusChangeIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx
) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.change_conversation_status(
        session,
        conversation_id=conversation_id,
        status=body.status,
        reason=body.reason,
        comment=body.comment,
        actor_id=operator.id,
        reason_required=ctx.settings.require_reason_to_resolve,
    )
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/assign", response_model=ConversationOut)
async def assign(conversation_id: int, body: AssignIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.assign_conversation(
        session,
        conversation_id=conversation_id,
        operator_id=body.operator_id,
        team_id=body.team_id,
        change_team="team_id" in body.model_fields_set,
        comment=body.comment,
        actor_id=operator.id,
    )
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/priority", response_model=ConversationOut)
async def set_priority(conversation_id: int, body: PriorityIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.set_conversation_priority(
        session, conversation_id=conversation_id, priority=body.priority, actor_id=operator.id
    )
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/escalate", response_model=ConversationOut)
async def escalate(conversation_id: int, body: EscalateIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.escalate_conversation(
        session, conversation_id=conversation_id, team_id=body.team_id, comment=body.comment, actor_id=operator.id
    )
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/snooze", response_model=ConversationOut)
async def snooze_conversation(
    conversation_id: int, body: SnoozeIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx
) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    until = body.until or snooze_until(body.preset, utcnow(), zone_of(operator.time_zone, ctx.settings.default_time_zone))
    conversation = await snooze.snooze_conversation(
        session, conversation_id=conversation_id, until=until, comment=body.comment, actor_id=operator.id
    )
    return ConversationOut.model_validate(conversation)


@router.post("/{conversation_id}/unsnooze", response_model=ConversationOut)
async def unsnooze_conversation(
    conversation_id: int, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, body: UnsnoozeIn | None = None
) -> ConversationOut:
    await access_conversation(session, scope, conversation_id)
    conversation = await snooze.unsnooze_conversation(
        session, conversation_id=conversation_id, comment=body.comment if body else None, actor_id=operator.id
    )
    return ConversationOut.model_validate(conversation)


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class TagsIn(BaseModel):
    tags: list[Tag] = Field(min_length=1, max_length=lifecycle.MAX_TAGS)


@router.post("/{conversation_id}/tags", response_model=ConversationOut)
async def add_tags(conversation_id: int, body: TagsIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ConversationOut:
    """Adds tags (lower-cased; ones it has already are no change): a ``conversation.tagged`` entry."""
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.tag_conversation(session, conversation_id=conversation_id, tags=body.tags, actor_id=operator.id)
    return ConversationOut.model_validate(conversation)


@router.delete("/{conversation_id}/tags/{tag}", response_model=ConversationOut)
async def remove_tag(conversation_id: int, tag: str, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ConversationOut:
    """Removes one tag: a ``conversation.untagged`` entry (none when it did not have it)."""
    await access_conversation(session, scope, conversation_id)
    conversation = await lifecycle.untag_conversation(session, conversation_id=conversation_id, tags=[tag], actor_id=operator.id)
    return ConversationOut.model_validate(conversation)


class ReadOut(BaseModel):
    conversation_id: int
    last_read_message_id: int


@router.post("/{conversation_id}/read", response_model=ReadOut)
async def mark_read(conversation_id: int, operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> ReadOut:
    """The calling operator has seen the conversation up to its latest message (his unread
    marker goes; nobody else's)."""
    await access_conversation(session, scope, conversation_id)
    position = await unread.mark_read(session, operator_id=operator.id, conversation_id=conversation_id)
    return ReadOut(conversation_id=conversation_id, last_read_message_id=position)
