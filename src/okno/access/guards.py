"""Fetch one object the principal may see, or answer 404 exactly as if it did not exist: another
team's conversation or customer is never confirmed to exist."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access.clauses import canned_answer_visible, conversation_visible, customer_visible
from okno.access.scope import Scope
from okno.kit.errors import NotFound
from okno.models import CannedAnswer, Conversation, Customer, CustomerMerge, IdentityConflict, MatchSuggestion, Message


async def access_conversation(session: AsyncSession, scope: Scope, conversation_id: int) -> Conversation:
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, conversation_visible(scope))
    )
    if conversation is None:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    return conversation


async def access_customer(session: AsyncSession, scope: Scope, customer_id: int) -> Customer:
    """A merged-away profile is visible when its live survivor is."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    if scope.sees_everything:
        return customer
    live, seen = customer, {customer_id}
    while live.merged_into_id is not None and live.merged_into_id not in seen:
        seen.add(live.merged_into_id)
        live = await session.get(Customer, live.merged_into_id) or live
    if not await session.scalar(select(customer_visible(scope, Customer.id)).where(Customer.id == live.id)):
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    return customer


async def access_message(session: AsyncSession, scope: Scope, message_id: int) -> Message:
    message = await session.get(Message, message_id)
    if message is None or not await sees_conversation(session, scope, message.conversation_id):
        raise NotFound("%(what)s %(id)s not found", what="message", id=message_id)
    return message


async def sees_conversation(session: AsyncSession, scope: Scope, conversation_id: int | None) -> bool:
    if conversation_id is None:
        return scope.sees_everything
    if scope.sees_everything:
        return True
    found = await session.scalar(select(Conversation.id).where(Conversation.id == conversation_id, conversation_visible(scope)))
    return found is not None


async def visible_conversations_among(session: AsyncSession, scope: Scope, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if scope.sees_everything or not wanted:
        return wanted
    return set(await session.scalars(select(Conversation.id).where(Conversation.id.in_(wanted), conversation_visible(scope))))


async def visible_customers_among(session: AsyncSession, scope: Scope, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if scope.sees_everything or not wanted:
        return wanted
    return set(await session.scalars(select(Customer.id).where(Customer.id.in_(wanted), customer_visible(scope))))


async def access_merge(session: AsyncSession, scope: Scope, merge_id: int) -> CustomerMerge:
    """A merge is the survivor's history: visible with him."""
    merge = await session.get(CustomerMerge, merge_id)
    if merge is None or not await visible_customers_among(session, scope, [merge.survivor_id]):
        raise NotFound("%(what)s %(id)s not found", what="merge", id=merge_id)
    return merge


async def access_conflict(session: AsyncSession, scope: Scope, conflict_id: int) -> IdentityConflict:
    """Deciding a conflict touches both customers: both must be visible."""
    conflict = await session.get(IdentityConflict, conflict_id)
    if conflict is None or not await _sees_both(session, scope, conflict.owner_id, conflict.claimant_id):
        raise NotFound("%(what)s %(id)s not found", what="identity conflict", id=conflict_id)
    return conflict


async def access_suggestion(session: AsyncSession, scope: Scope, suggestion_id: int) -> MatchSuggestion:
    suggestion = await session.get(MatchSuggestion, suggestion_id)
    if suggestion is None or not await _sees_both(session, scope, suggestion.customer_id, suggestion.other_customer_id):
        raise NotFound("%(what)s %(id)s not found", what="suggestion", id=suggestion_id)
    return suggestion


async def _sees_both(session: AsyncSession, scope: Scope, first: int, second: int) -> bool:
    return await visible_customers_among(session, scope, [first, second]) == {first, second}


async def access_canned_answer(session: AsyncSession, scope: Scope, answer_id: int) -> CannedAnswer:
    """Another team's canned answer is not found (its text may name that team's customers or terms)."""
    answer = await session.scalar(select(CannedAnswer).where(CannedAnswer.id == answer_id, canned_answer_visible(scope)))
    if answer is None:
        raise NotFound("%(what)s %(id)s not found", what="canned answer", id=answer_id)
    return answer
