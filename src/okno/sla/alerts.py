"""What the SLA timers do when they fire: a warning before a deadline, a breach at it.

Both are on the customer's timeline and in the outbox (the operators' live feed shows them; the
escalation subscriber acts on breaches). A timer that fires for a target that has since been
answered, paused or given a later deadline does nothing.

A target is answered, paused or resolved by the bus subscriber that reads the conversation's
events, so its state lags the facts by the relay's backlog. A timer therefore decides only once
every event recorded up to its moment has been handed to the subscribers: until then it fires
again a moment later (``WAIT_FOR_EVENTS``), and after ``DECIDE_AFTER_AT_MOST`` past its moment it
decides on the state as it is (a relay stuck that long is an incident of its own).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.bus.relay import events_waiting_up_to
from okno.conversations.actors import Actor
from okno.kit.timers import FireLater
from okno.models import Conversation, SlaTarget, TargetState, TimelineEvent, Timer

TOLERANCE = timedelta(seconds=1)
SLA_TIMER = Actor.system("timer:sla")
WAIT_FOR_EVENTS = timedelta(seconds=2)
DECIDE_AFTER_AT_MOST = timedelta(minutes=10)


async def on_breach_timer(session: AsyncSession, timer: Timer, now: datetime) -> None:
    target = await session.get(SlaTarget, timer.ref_id, with_for_update=True)
    if target is None or target.state != TargetState.running.value or target.breached_at is not None:
        return
    if target.due_at is None or target.due_at > now + TOLERANCE:
        return
    await _wait_for_events_up_to(session, target.due_at, now)
    target.breached_at = target.due_at
    await _announce(session, target, "sla.breached", at=target.due_at)


async def on_warning_timer(session: AsyncSession, timer: Timer, now: datetime) -> None:
    target = await session.get(SlaTarget, timer.ref_id, with_for_update=True)
    if target is None or target.state != TargetState.running.value or target.warned_at is not None:
        return
    if target.warn_at is None or target.warn_at > now + TOLERANCE:
        return
    await _wait_for_events_up_to(session, target.warn_at, now)
    target.warned_at = now
    await _announce(session, target, "sla.warning", at=now)


async def _wait_for_events_up_to(session: AsyncSession, moment: datetime, now: datetime) -> None:
    """Raises :class:`FireLater` while an event recorded by ``moment`` (a reply, a resolution, a
    pause in time) may not have reached the SLA subscriber yet."""
    if now - moment < DECIDE_AFTER_AT_MOST and await events_waiting_up_to(session, moment):
        raise FireLater(now + WAIT_FOR_EVENTS)


async def _announce(session: AsyncSession, target: SlaTarget, kind: str, *, at: datetime) -> None:
    conversation = await session.get(Conversation, target.conversation_id)
    if conversation is None:
        return
    data = {
        "conversation_id": conversation.id,
        "target_id": target.id,
        "metric": target.metric,
        "due_at": target.due_at.isoformat() if target.due_at else None,
    }
    session.add(
        TimelineEvent(
            customer_id=conversation.customer_id, conversation_id=conversation.id, kind=kind, data=data, occurred_at=at, **SLA_TIMER.columns()
        )
    )
    await record_event(session, kind, {**data, "customer_id": conversation.customer_id, "team_id": conversation.team_id})
    await session.flush()
