"""What okno does as a call's facts change (docs/telephony.md).

A call is one message (``kind = "call"``) whose ``content["call"]`` the channel's events fill in
(okno.channels.items): direction, the extension that answered, whether it ended, answered or not,
duration, disposition, status code. After each stored or updated call message
(``message.received`` / ``message.updated``) :func:`follow_call` compares those facts with what
okno already did about the call (``content["telephony"]``) and does the rest, once:

- ringing, inbound, not answered yet → ``call.ringing`` (the screen pop on the live feed);
- answered by an extension → ``call.answered`` and the conversation is the answering operator's;
- ended unanswered (inbound) → a ``call.missed`` timeline entry and event; the conversation stays
  open in its team's queue with its first-response SLA clock running: the callback task;
- ended answered (either direction) → a ``call.completed`` entry and event, the conversation is
  resolved, and so is every open call conversation of the same customer (his missed calls: a
  number is one customer), each with a ``call.callback_completed`` entry naming this call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.inprocess import EventByEvent
from okno.bus.outbox import record_event
from okno.conversations.actors import Actor, acting_as
from okno.conversations.catalog import unfinished_status_keys
from okno.conversations.lifecycle import assign_conversation, change_conversation_status
from okno.kit.time import utcnow
from okno.models import Conversation, Message, MessageKind, Operator, TimelineEvent
from okno.telephony.events import CallAnswered, CallCompleted, CallMissed, CallRinging

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps
    from okno.bus.events import Event

MARKS = "telephony"  # the section of the call's content where okno notes what it did
CALL_MEDIUM = "call"
TELEPHONY = Actor.system("telephony")
RESOLVED = "resolved"


async def follow_call_event(deps: SubscriberDeps, event: Event) -> None:
    """Bus subscriber of ``message.received`` and ``message.updated``: only call channels' messages."""
    channel_id = event.payload.get("channel_id")
    channel = await deps.channels.get(channel_id) if channel_id is not None else None
    if channel is None or channel.adapter.capabilities.medium != CALL_MEDIUM:
        return  # a chat message: nothing to do, and nothing read
    async with deps.db.transaction() as session:
        await follow_call(session, event.payload["message_id"])


async def follow_call_events(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form of :func:`follow_call_event`: nothing to do unless one of the messages came
    by a call channel; then event by event (each event its own retry)."""
    for event in events:
        channel_id = event.payload.get("channel_id")
        channel = await deps.channels.get(channel_id) if channel_id is not None else None
        if channel is not None and channel.adapter.capabilities.medium == CALL_MEDIUM:
            raise EventByEvent


async def follow_call(session: AsyncSession, message_id: int) -> None:
    message = await session.get(Message, message_id, with_for_update=True)
    if message is None or message.kind != MessageKind.call.value:
        return
    content = dict(message.content or {})
    call, done = dict(content.get("call") or {}), dict(content.get(MARKS) or {})
    before = dict(done)
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is None:
        return
    ids = {"conversation_id": conversation.id, "customer_id": conversation.customer_id, "message_id": message.id, "channel_id": message.channel_id}
    with acting_as(session, TELEPHONY):
        if call.get("direction") == "in" and not call.get("ended") and not call.get("answered") and not done.get("rang"):
            done["rang"] = True
            await record_event(session, CallRinging(**ids, team_id=conversation.team_id))
        if call.get("answered") and call.get("answered_by") and "answered_by" not in done:
            done["answered_by"] = await operator_with_extension(session, call["answered_by"])
            await record_event(session, CallAnswered(**ids, operator_id=done["answered_by"], extension=call["answered_by"]))
            await _give_to(session, conversation, done["answered_by"])
        if call.get("ended") and not done.get("ended"):
            done["ended"] = True
            await _ended(session, conversation, message, call, done, ids)
    if done != before:
        await session.execute(update(Message).where(Message.id == message.id).values(content={**content, MARKS: done}))


async def _ended(session: AsyncSession, conversation: Conversation, message: Message, call: dict, done: dict, ids: dict) -> None:
    data = {k: call.get(k) for k in ("direction", "duration", "disposition", "status_code", "extension") if call.get(k) is not None}
    if call.get("answered"):
        operator_id = done.get("answered_by") or await operator_with_extension(session, call.get("answered_by") or call.get("extension"))
        callbacks = await _complete_callbacks(session, conversation, message)
        _entry(session, conversation, message, "call.completed", {**data, "operator_id": operator_id, "callbacks": callbacks})
        await record_event(session, CallCompleted(**ids, duration=_int(call.get("duration")), operator_id=operator_id, callbacks=callbacks))
        await _resolve(session, conversation.id)
        return
    _entry(session, conversation, message, "call.missed", data)
    await record_event(session, CallMissed(**ids, disposition=call.get("disposition")))
    if call.get("direction") == "out":
        await _resolve(session, conversation.id)  # an operator's unanswered attempt: nothing waits on the customer's side


async def _complete_callbacks(session: AsyncSession, conversation: Conversation, message: Message) -> list[int]:
    """The customer's other unfinished call conversations: his missed calls, called back now."""
    waiting = list(
        await session.scalars(
            select(Conversation.id)
            .where(
                Conversation.customer_id == conversation.customer_id,
                Conversation.id != conversation.id,
                Conversation.status.in_(unfinished_status_keys()),
                Conversation.id.in_(select(Message.conversation_id).where(Message.customer_id == conversation.customer_id, Message.kind == MessageKind.call.value)),
            )
            .order_by(Conversation.id)
        )
    )
    for conversation_id in waiting:
        missed = await session.get(Conversation, conversation_id)
        _entry(session, missed, message, "call.callback_completed", {"by_conversation_id": conversation.id})  # type: ignore[arg-type]
        await _resolve(session, conversation_id)
    return waiting


async def _give_to(session: AsyncSession, conversation: Conversation, operator_id: int | None) -> None:
    if operator_id is None or conversation.assignee_id == operator_id:
        return
    await assign_conversation(
        session, conversation_id=conversation.id, operator_id=operator_id, team_id=None, change_team=False, comment=None, actor_id=None, strategy="call answered"
    )


async def _resolve(session: AsyncSession, conversation_id: int) -> None:
    await change_conversation_status(session, conversation_id=conversation_id, status=RESOLVED, reason=None, comment=None, actor_id=None)


def _entry(session: AsyncSession, conversation: Conversation, message: Message, kind: str, data: dict[str, Any]) -> None:
    session.add(
        TimelineEvent(
            customer_id=conversation.customer_id, conversation_id=conversation.id, message_id=message.id, channel_id=message.channel_id,
            **TELEPHONY.columns(), kind=kind, data=data, occurred_at=utcnow(),
        )
    )


async def operator_with_extension(session: AsyncSession, extension: Any) -> int | None:
    if not isinstance(extension, str) or not extension:
        return None
    return await session.scalar(select(Operator.id).where(Operator.extension == extension, Operator.is_active.is_(True)))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
