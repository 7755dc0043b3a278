"""Which conversation a new inbound touch belongs to.

An unfinished conversation of the same customer continues, whichever channel the touch comes
from; one waiting (a status of type pending or on hold) is reopened (which ends a snooze). Otherwise a new
conversation is opened. "Unfinished" and "waiting" are status *types*, so custom statuses count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.ids import allocate_ids
from okno.models import UNFINISHED_TYPES, Conversation, ConversationStatus, Priority, StatusDefinition, StatusType

_WAITING_TYPES = frozenset({StatusType.pending.value, StatusType.on_hold.value})


@dataclass(eq=False)
class ConversationRef:
    id: int | None
    customer_id: int
    status: str
    is_new: bool = False
    reopened_from: str | None = None
    status_type: str = StatusType.open.value


@dataclass(frozen=True)
class Touch:
    customer_id: int
    channel_id: int
    at: datetime


async def thread_touches(session: AsyncSession, touches: list[Touch]) -> list[ConversationRef]:
    current = await _unfinished_by_customer(session, {t.customer_id for t in touches})
    refs: list[ConversationRef] = []
    new: list[tuple[ConversationRef, Touch]] = []
    for touch in touches:
        ref = current.get(touch.customer_id)
        if ref is None:
            ref = ConversationRef(id=None, customer_id=touch.customer_id, status=ConversationStatus.open, is_new=True)
            current[touch.customer_id] = ref
            new.append((ref, touch))
        elif ref.status_type in _WAITING_TYPES:
            ref.reopened_from, ref.status = ref.status, ConversationStatus.open
            ref.status_type = StatusType.open.value
        refs.append(ref)
    await _open(session, new)
    await _record_activity(session, refs, touches)
    return refs


async def _unfinished_by_customer(session: AsyncSession, customer_ids: set[int]) -> dict[int, ConversationRef]:
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(Conversation.id, Conversation.customer_id, Conversation.status, StatusDefinition.type)
        .join(StatusDefinition, StatusDefinition.key == Conversation.status)
        .where(Conversation.customer_id.in_(customer_ids), StatusDefinition.type.in_([t.value for t in UNFINISHED_TYPES]))
        .order_by(Conversation.id)
    )
    # the newest unfinished conversation wins if a customer somehow has several
    return {
        cid: ConversationRef(id=conv_id, customer_id=cid, status=status, status_type=kind) for conv_id, cid, status, kind in rows
    }


async def _open(session: AsyncSession, new: list[tuple[ConversationRef, Touch]]) -> None:
    if not new:
        return
    for (ref, _), conv_id in zip(new, await allocate_ids(session, Conversation.__table__, len(new)), strict=True):
        ref.id = conv_id
    await session.execute(
        insert(Conversation.__table__),
        [
            {
                "id": ref.id,
                "customer_id": t.customer_id,
                "channel_id": t.channel_id,
                "status": ConversationStatus.open.value,
                "priority": Priority.normal.value,
                "created_at": t.at,
                "updated_at": t.at,
            }
            for ref, t in new
        ],
    )


async def _record_activity(session: AsyncSession, refs: list[ConversationRef], touches: list[Touch]) -> None:
    latest: dict[int, tuple[ConversationRef, datetime]] = {}
    for ref, touch in zip(refs, touches, strict=True):
        latest[id(ref)] = (ref, touch.at)
    table = Conversation.__table__
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("conv_id"))
        .values(
            status=bindparam("new_status"),
            last_message_at=bindparam("at"),
            last_inbound_at=bindparam("at"),
            updated_at=bindparam("at"),
        ),
        [{"conv_id": ref.id, "new_status": ref.status, "at": at} for ref, at in latest.values()],
    )
    if reopened := {ref.id for ref, _ in latest.values() if ref.reopened_from}:  # rare: no statement otherwise
        # a snoozed conversation the customer wrote to is awake: its timer will find nothing to do
        await session.execute(update(table).where(table.c.id.in_(reopened)).values(snoozed_until=None))
