"""One action on many conversations at once (the inbox's bulk selection).

Every conversation named must be visible to the principal, else nothing is done and the answer
is the same 404 as for one invisible conversation: a bulk request can't act on, or confirm the
existence of, another team's conversations. Each conversation then goes through the same named
function as a single action (its own timeline entry and event), in id order, in one transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.guards import visible_conversations_among
from okno.conversations import lifecycle
from okno.kit.errors import Invalid, NotFound
from okno.models import Conversation, ConversationStatus

MAX_BULK = 200


class BulkAction(enum.StrEnum):
    assign = "assign"  # to an operator (``operator_id``; None: to nobody), the team stays
    transfer = "transfer"  # to a team's queue (``team_id``), nobody assigned
    resolve = "resolve"  # with a closing reason and an optional comment
    tag = "tag"  # add ``tags``


@dataclass(frozen=True)
class BulkRequest:
    action: BulkAction
    conversation_ids: list[int]
    operator_id: int | None = None
    team_id: int | None = None
    reason: str | None = None
    comment: str | None = None
    tags: tuple[str, ...] = ()


async def apply_bulk(
    session: AsyncSession, request: BulkRequest, *, scope: Scope, actor_id: int, reason_required: bool = False
) -> list[Conversation]:
    ids = sorted(set(request.conversation_ids))
    if not ids or len(ids) > MAX_BULK:
        raise Invalid("name between 1 and %(num)s conversation", plural="name between 1 and %(num)s conversations", num=MAX_BULK)
    hidden = set(ids) - await visible_conversations_among(session, scope, ids)
    if hidden:
        raise NotFound("conversation %(id)s not found", id=min(hidden))
    _check(request, reason_required)
    return [await _apply_one(session, request, conversation_id, actor_id) for conversation_id in ids]


def _check(request: BulkRequest, reason_required: bool) -> None:
    if request.action == BulkAction.transfer and request.team_id is None:
        raise Invalid("transfer needs team_id")
    if request.action == BulkAction.tag and not request.tags:
        raise Invalid("tag needs at least one tag")
    if request.action == BulkAction.resolve and reason_required and not request.reason:
        raise Invalid("a reason is required to resolve")


async def _apply_one(session: AsyncSession, request: BulkRequest, conversation_id: int, actor_id: int) -> Conversation:
    if request.action == BulkAction.assign:
        return await lifecycle.assign_conversation(
            session, conversation_id=conversation_id, operator_id=request.operator_id, team_id=None, change_team=False,
            comment=request.comment, actor_id=actor_id,
        )
    if request.action == BulkAction.transfer:
        return await lifecycle.assign_conversation(
            session, conversation_id=conversation_id, operator_id=None, team_id=request.team_id, change_team=True,
            comment=request.comment, actor_id=actor_id,
        )
    if request.action == BulkAction.resolve:
        return await lifecycle.change_conversation_status(
            session, conversation_id=conversation_id, status=ConversationStatus.resolved.value, reason=request.reason,
            comment=request.comment, actor_id=actor_id,
        )
    return await lifecycle.tag_conversation(session, conversation_id=conversation_id, tags=list(request.tags), actor_id=actor_id)
