"""Automatic escalation: a breached SLA target (or an automation rule's ``escalate`` action without
a team) sends the conversation up its team's escalation path (the team's ``escalation_team_id``),
on the timeline and in the outbox like a manual one."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.conversations.lifecycle import escalate_conversation
from okno.models import Conversation, Team

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

METRIC_NAMES = {"first_response": "first response", "next_response": "next response", "resolution": "resolution"}


async def escalate_on_breach(deps: SubscriberDeps, event: Event) -> None:
    """sla.breached → the team's escalation team, unless it is already there (idempotent)."""
    async with deps.db.transaction() as session:
        conversation = await session.get(Conversation, event.payload["conversation_id"], with_for_update=True)
        if conversation is None:
            return
        escalation_team_id = await escalation_team_of(session, conversation)
        if escalation_team_id is None:
            return
        due = event.payload.get("due_at")
        when = datetime.fromisoformat(due).strftime("%Y-%m-%d %H:%M UTC") if due else "earlier"
        metric = METRIC_NAMES.get(event.payload.get("metric", ""), event.payload.get("metric", "SLA"))
        await escalate_conversation(
            session,
            conversation_id=conversation.id,
            team_id=escalation_team_id,
            comment=f"SLA breached: the {metric} target was due {when}",
            actor_id=None,
            trigger="sla_breach",
        )


async def escalation_team_of(session: AsyncSession, conversation: Conversation) -> int | None:
    """The next team up the conversation's escalation path (None: no team, or already at the top)."""
    if conversation.team_id is None:
        return None
    team = await session.get(Team, conversation.team_id)
    if team is None or team.escalation_team_id in (None, conversation.team_id):
        return None
    return team.escalation_team_id
