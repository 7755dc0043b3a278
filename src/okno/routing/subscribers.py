"""Bus subscribers that keep queues moving: a conversation that starts waiting is offered to its
team at once; an operator who frees up takes the best waiting conversation at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from okno.bus.events import Event
from okno.models import Conversation, Presence, Team
from okno.routing.assignment import active_status_keys, assign_to_free_operator, assign_waiting_conversation, read_waiting_ahead

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

TEAM_DRAIN_BATCH = 100


async def offer_waiting_conversation(deps: SubscriberDeps, event: Event) -> None:
    """conversation.routed / .escalated / .status_changed / .assigned: it may be waiting now."""
    async with deps.db.transaction() as session:
        await assign_waiting_conversation(session, event.payload["conversation_id"])


async def offer_waiting_conversations(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form: each in the round's order, in one transaction, the conversations and the
    teams they wait in read once for all."""
    async with deps.db.transaction() as session:
        ahead = await read_waiting_ahead(session, [event.payload["conversation_id"] for event in events])
        for event in events:
            await assign_waiting_conversation(session, event.payload["conversation_id"], ahead=ahead)


async def free_previous_operator(deps: SubscriberDeps, event: Event) -> None:
    """conversation.assigned: whoever had it before has room again."""
    previous = event.payload.get("from")
    if previous is not None and previous != event.payload.get("to"):
        async with deps.db.transaction() as session:
            await assign_to_free_operator(session, previous)


async def free_operator_after_status_change(deps: SubscriberDeps, event: Event) -> None:
    """conversation.status_changed: out of active work, its operator has room again."""
    async with deps.db.transaction() as session:
        conversation = await session.get(Conversation, event.payload["conversation_id"])
        if conversation is not None and conversation.assignee_id is not None:
            await assign_to_free_operator(session, conversation.assignee_id)


async def free_operators_after_status_change(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form: each in the round's order, in one transaction, the conversations read at once."""
    async with deps.db.transaction() as session:
        ids = sorted({event.payload["conversation_id"] for event in events})
        read = {c.id: c for c in await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
        for event in events:
            conversation = read.get(event.payload["conversation_id"])
            if conversation is not None and conversation.assignee_id is not None:
                await assign_to_free_operator(session, conversation.assignee_id)


async def operator_became_available(deps: SubscriberDeps, event: Event) -> None:
    """operator.presence_changed (to online) / operator.routing_changed (maybe more capacity)."""
    if event.topic == "operator.presence_changed" and event.payload.get("to") != Presence.online.value:
        return
    async with deps.db.transaction() as session:
        await assign_to_free_operator(session, event.payload["operator_id"])


async def drain_team_queue(deps: SubscriberDeps, event: Event) -> None:
    """team.changed: a team switched to automatic assignment hands out what was waiting."""
    async with deps.db.reading() as session:
        team = await session.get(Team, event.payload["team_id"])
        if team is None:
            return
        waiting = list(
            await session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.team_id == team.id,
                    Conversation.assignee_id.is_(None),
                    Conversation.queued_at.is_not(None),
                    Conversation.status.in_(active_status_keys()),
                )
                .order_by(Conversation.priority.desc(), Conversation.queued_at, Conversation.id)
                .limit(TEAM_DRAIN_BATCH)
            )
        )
    for conversation_id in waiting:
        async with deps.db.transaction() as session:
            if await assign_waiting_conversation(session, conversation_id) is None:
                break  # nobody has room: the rest waits for an operator to free up
