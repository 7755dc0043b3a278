"""The routing hook: where a new conversation goes. For now a conversation joins the queue of
the team that owns its channel; rule-based routing and assignment plug in here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from okno.bus.events import Event
from okno.models import Conversation, TimelineEvent

if TYPE_CHECKING:
    from okno.context import AppContext


async def route_new_conversation(ctx: AppContext, event: Event) -> None:
    channel = await ctx.channels.get(event.payload["channel_id"])
    if channel is None or channel.team_id is None:
        return
    async with ctx.db.transaction() as session:
        result = await session.execute(
            update(Conversation)
            .where(Conversation.id == event.payload["conversation_id"], Conversation.team_id.is_(None))
            .values(team_id=channel.team_id)
        )
        if result.rowcount:  # idempotent: a redelivered event finds the team already set
            session.add(
                TimelineEvent(
                    customer_id=event.payload["customer_id"],
                    conversation_id=event.payload["conversation_id"],
                    channel_id=channel.id,
                    kind="conversation.routed",
                    data={"team_id": channel.team_id, "rule": "channel team"},
                )
            )
