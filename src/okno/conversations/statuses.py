"""Provider delivery statuses applied to our outbound messages, forwards only.

Statuses arrive out of order (``read`` before ``delivered``) and sometimes before our own send
call has returned the provider's message id. A status never moves a message backwards; one for
a message we don't know yet is deferred and re-queued once the delivery worker records that id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_events
from okno.channels.base import InboundStatus, status_key_prefix
from okno.kit.db_wake import request_wake
from okno.models import Direction, InboundItem, Message, MessageStatus, TimelineEvent

# which current statuses each reported status may replace
_MAY_REPLACE: dict[str, tuple[str, ...]] = {
    MessageStatus.sent: (MessageStatus.queued,),
    MessageStatus.delivered: (MessageStatus.queued, MessageStatus.sent),
    MessageStatus.read: (MessageStatus.queued, MessageStatus.sent, MessageStatus.delivered),
    MessageStatus.failed: (MessageStatus.queued, MessageStatus.sent),
}


@dataclass(frozen=True)
class ClaimedStatus:
    row_id: int
    channel_id: int
    item: InboundStatus
    received_at: datetime


async def apply_statuses(session: AsyncSession, claimed: list[ClaimedStatus]) -> list[int]:
    """Applies what it can; returns the row ids to defer (their message is not known yet).

    One read finds which of the batch's messages exist; only a status whose message is known is
    tried (one guarded UPDATE each), so a report about messages okno never sent costs a read a
    batch, not statements per status."""
    events: list[tuple[str, dict]] = []
    unknown = await _apply_known(session, claimed, events)
    deferred: list[int] = []
    if unknown:
        # the send that names these messages may be committing right now: wait for it, look again
        await lock_provider_messages(session, [(c.channel_id, c.item.provider_message_id) for c in unknown])
        deferred = [c.row_id for c in await _apply_known(session, unknown, events)]
    await record_events(session, events)
    return deferred


async def _apply_known(session: AsyncSession, claimed: list[ClaimedStatus], events: list[tuple[str, dict]]) -> list[ClaimedStatus]:
    """Applies, in arrival order, each status whose message exists; returns the others."""
    known = await _known_keys(session, claimed)
    unknown = []
    for c in claimed:
        if (c.channel_id, c.item.provider_message_id) in known:
            await _apply_one(session, c, events)
        else:
            unknown.append(c)
    return unknown


async def _known_keys(session: AsyncSession, claimed: list[ClaimedStatus]) -> set[tuple[int, str]]:
    wanted = {(c.channel_id, c.item.provider_message_id) for c in claimed}
    rows = await session.execute(
        select(Message.channel_id, Message.provider_message_id)
        .where(Message.channel_id.in_(sorted({k[0] for k in wanted})), Message.provider_message_id.in_(sorted({k[1] for k in wanted})))
        .distinct()
    )
    return {(channel_id, provider_id) for channel_id, provider_id in rows} & wanted


async def lock_provider_messages(session: AsyncSession, keys: list[tuple[int, str]]) -> None:
    """PostgreSQL: serialises "defer a status of a message not known yet" with "record that
    message's provider id and requeue its deferred statuses" (delivery), so a status is never
    deferred just after the requeue that should have picked it up. Keys are locked in sorted
    order on both sides (no deadlock). SQLite's single writer serialises these already."""
    if session.bind.dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(channel_id, provider_id) for channel_id, provider_id in keys}):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _lock_key(channel_id: int, provider_message_id: str) -> int:
    digest = hashlib.blake2b(f"okno.status:{channel_id}:{provider_message_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _apply_one(session: AsyncSession, c: ClaimedStatus, events: list[tuple[str, dict]]) -> bool:
    """Moves the message forward if it is known; whether a message matched."""
    at = c.item.occurred_at or c.received_at
    row = (
        await session.execute(
            update(Message)
            .where(
                Message.channel_id == c.channel_id,
                Message.provider_message_id == c.item.provider_message_id,
                Message.direction == Direction.outbound.value,
                Message.status.in_(_MAY_REPLACE[c.item.status]),
            )
            .values(status=c.item.status, status_updated_at=at, error=c.item.error)
            .returning(Message.id, Message.conversation_id, Message.customer_id)
        )
    ).first()
    if row is None:
        return False  # already further along (or an inbound message's id): nothing to do
    payload = {"message_id": row.id, "conversation_id": row.conversation_id, "customer_id": row.customer_id, "channel_id": c.channel_id, "status": c.item.status}
    events.append(("message.status_changed", payload))
    if c.item.status == MessageStatus.failed:
        session.add(TimelineEvent(customer_id=row.customer_id, conversation_id=row.conversation_id, message_id=row.id, channel_id=c.channel_id, kind="message.failed", data={"reason": c.item.error}, occurred_at=at))
    return True


async def requeue_deferred_statuses(session: AsyncSession, channel_id: int, provider_message_id: str) -> None:
    prefix = status_key_prefix(provider_message_id)
    result = await session.execute(
        update(InboundItem)
        .where(
            InboundItem.channel_id == channel_id,
            InboundItem.status == "deferred",
            InboundItem.provider_id >= prefix,
            InboundItem.provider_id < prefix[:-1] + chr(ord(":") + 1),
        )
        .values(status="pending")
    )
    if result.rowcount:
        request_wake(session, "ingest")
