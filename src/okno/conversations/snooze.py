"""Snooze: put a conversation on hold until a moment, and wake it then.

Snoozing sets the built-in ``on_hold`` status (its type pauses SLA clocks, and a customer who
writes meanwhile reopens it like any waiting conversation), remembers ``snoozed_until`` and
schedules a durable timer. The timer reopens the conversation once, at that moment; a
conversation someone or something moved on in between (a status change ends a snooze early)
is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.conversations.actors import Actor, acting_as
from okno.conversations.lifecycle import (
    SNOOZE_TIMER,
    change_conversation_status,
    conversation_for_update,
    end_snooze,
    record_change,
)
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.kit.timers import schedule_timer
from okno.models import FINISHED_TYPES, Conversation, ConversationStatus, StatusDefinition, Timer

SNOOZE_STATUS = ConversationStatus.on_hold.value  # built in: its type (on hold) cannot be changed
MAX_SNOOZE = timedelta(days=365)
SNOOZE_WAKER = Actor.system("timer:snooze")


async def snooze_conversation(
    session: AsyncSession, *, conversation_id: int, until: datetime, comment: str | None, actor_id: int | None
) -> Conversation:
    now = utcnow()
    _check_until(until, now)
    conversation = await conversation_for_update(session, conversation_id)
    if await _status_type(session, conversation.status) in FINISHED_TYPES:
        raise Invalid("conversation %(conversation_id)s is %(status)s: reopen it before snoozing", conversation_id=conversation_id, status=conversation.status)
    await change_conversation_status(
        session, conversation_id=conversation_id, status=SNOOZE_STATUS, reason=None, comment=comment, actor_id=actor_id
    )
    conversation.snoozed_until = until
    await schedule_timer(session, SNOOZE_TIMER, conversation_id, until)
    data = {"until": until.isoformat(), "comment": (comment or "").strip() or None}
    await record_change(session, conversation, "conversation.snoozed", actor_id=actor_id, at=now, data=data, feed={"status": SNOOZE_STATUS})
    return conversation


async def unsnooze_conversation(
    session: AsyncSession, *, conversation_id: int, comment: str | None, actor_id: int | None
) -> Conversation:
    """Wake it early: open again (which ends the snooze); a conversation not snoozed is left as it is."""
    conversation = await conversation_for_update(session, conversation_id)
    until = await end_snooze(session, conversation)
    if until is not None:
        await _wake(session, conversation, until, comment=comment, actor_id=actor_id, early=True)
    return conversation


async def on_snooze_timer(session: AsyncSession, timer: Timer, now: datetime) -> None:
    conversation = await session.get(Conversation, timer.ref_id, with_for_update=True)
    if conversation is None or conversation.snoozed_until is None:
        return  # the customer wrote (reopened), or someone changed the status meanwhile
    if conversation.status != SNOOZE_STATUS:
        conversation.snoozed_until = None  # moved on without the snooze being ended: nothing to wake
        return
    until, conversation.snoozed_until = conversation.snoozed_until, None  # the worker marks this timer fired
    with acting_as(session, SNOOZE_WAKER):
        await _wake(session, conversation, until, comment="snooze ended", actor_id=None, early=False)


async def _wake(
    session: AsyncSession, conversation: Conversation, until: datetime, *, comment: str | None, actor_id: int | None, early: bool
) -> None:
    await session.flush()
    await change_conversation_status(
        session, conversation_id=conversation.id, status=ConversationStatus.open.value, reason=None, comment=comment, actor_id=actor_id
    )
    data = {"until": until.isoformat(), "early": early, "comment": (comment or "").strip() or None}
    await record_change(session, conversation, "conversation.snooze_ended", actor_id=actor_id, at=utcnow(), data=data)


def _check_until(until: datetime, now: datetime) -> None:
    if until.tzinfo is None or until.utcoffset() is None:
        raise Invalid("until must carry a time zone, e.g. 2026-12-01T09:00:00Z")
    if until <= now:
        raise Invalid("until must be in the future (it is %(until)s, now is %(now)s)", until=until.isoformat(), now=now.isoformat(timespec='seconds'))
    if until > now + MAX_SNOOZE:
        raise Invalid("until must be at most %(num)s day ahead (latest: %(latest)s)", plural="until must be at most %(num)s days ahead (latest: %(latest)s)", num=MAX_SNOOZE.days, latest=(now + MAX_SNOOZE).isoformat(timespec='seconds'))


async def _status_type(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(StatusDefinition.type).where(StatusDefinition.key == key))
