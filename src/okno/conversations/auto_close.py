"""Auto-close: a conversation left waiting for the customer (a status of type pending) with no
word from them for ``OKNO_PENDING_AUTO_CLOSE_HOURS`` is closed — by a durable timer that
survives restarts and fires once. A customer who writes meanwhile reopens the conversation, and
the timer then finds nothing to do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.conversations.actors import Actor, acting_as
from okno.conversations.lifecycle import change_conversation_status
from okno.kit.timers import cancel_timers, schedule_timer
from okno.models import Conversation, ConversationStatus, StatusDefinition, StatusType, Timer

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

AUTO_CLOSE_TIMER = "conversation.auto_close"
AUTO_CLOSER = Actor.system("timer:auto_close")


async def plan_auto_close(deps: SubscriberDeps, event: Event) -> None:
    """conversation.status_changed: waiting for the customer starts the timer, anything else stops it."""
    hours = deps.settings.pending_auto_close_hours
    if hours <= 0:
        return
    async with deps.db.transaction() as session:
        if event.payload.get("type") == StatusType.pending.value:
            await schedule_timer(session, AUTO_CLOSE_TIMER, event.payload["conversation_id"], event.created_at + timedelta(hours=hours))
        else:
            await cancel_timers(session, AUTO_CLOSE_TIMER, [event.payload["conversation_id"]])


async def on_auto_close_timer(session: AsyncSession, timer: Timer, now: datetime) -> None:
    found = (
        await session.execute(
            select(Conversation.last_inbound_at, StatusDefinition.type)
            .join(StatusDefinition, StatusDefinition.key == Conversation.status)
            .where(Conversation.id == timer.ref_id)
        )
    ).first()
    if found is None or found.type != StatusType.pending.value:
        return  # the customer wrote back (reopened), or someone moved it on
    with acting_as(session, AUTO_CLOSER):
        await change_conversation_status(
            session,
            conversation_id=timer.ref_id,
            status=ConversationStatus.closed.value,
            reason=None,
            comment="closed automatically: no reply from the customer",
            actor_id=None,
        )
