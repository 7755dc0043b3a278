"""Which channels an operator can answer a customer in right now, and which one to pick by default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.registry import ADAPTERS
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.models import Channel, Direction, Identity, Message


@dataclass(frozen=True)
class ReplyChannel:
    id: int
    kind: str
    name: str
    last_inbound_at: datetime | None  # None: a public-address channel he never wrote through
    available: bool
    # why a channel can't be used now: "reply_window" (the provider allows free-form replies only
    # within a window after the customer's last message) or "disabled"
    unavailable_reason: str | None
    window_closes_at: datetime | None
    # the text is billed in SMS segments (the reply box counts them)
    sms_segments: bool = False


async def reply_channels(session: AsyncSession, customer_id: int, *, now: datetime | None = None) -> list[ReplyChannel]:
    """Channels the customer has written from, the most recent first (that one is the default)."""
    now = now or utcnow()
    last_in = func.max(Message.created_at).label("last_in")
    rows = await session.execute(
        select(Channel, last_in)
        .join(Message, Message.channel_id == Channel.id)
        .where(Message.customer_id == customer_id, Message.direction == Direction.inbound.value)
        .group_by(Channel.id)
        .order_by(last_in.desc())
    )
    found = []
    for channel, last_inbound_at in rows.all():
        adapter = ADAPTERS.get(channel.kind)
        window = adapter.capabilities.reply_window if adapter is not None else None
        closes = last_inbound_at + window if window is not None else None
        reason = None
        if not channel.is_active:
            reason = "disabled"
        elif closes is not None and closes <= now:
            reason = "reply_window"
        found.append(
            ReplyChannel(
                id=channel.id,
                kind=channel.kind,
                name=channel.name,
                last_inbound_at=last_inbound_at,
                available=reason is None,
                unavailable_reason=reason,
                window_closes_at=closes,
                sms_segments=adapter is not None and adapter.capabilities.sms_segments,
            )
        )
    return found + await _public_address_channels(session, customer_id, {c.id for c in found})


async def _public_address_channels(session: AsyncSession, customer_id: int, listed: set[int]) -> list[ReplyChannel]:
    """Active channels that write to a public address (SMS to a phone) the customer has, after
    the channels he wrote through (never the default)."""
    kinds = {kind: cls.capabilities for kind, cls in ADAPTERS.items() if cls.capabilities.public_address}
    if not kinds:
        return []
    his = set(await session.scalars(select(Identity.kind).where(Identity.customer_id == customer_id).distinct()))
    channels = await session.scalars(select(Channel).where(Channel.kind.in_(kinds), Channel.is_active.is_(True)).order_by(Channel.id))
    return [
        ReplyChannel(
            id=channel.id, kind=channel.kind, name=channel.name, last_inbound_at=None, available=True, unavailable_reason=None,
            window_closes_at=None, sms_segments=kinds[channel.kind].sms_segments,
        )
        for channel in channels.all()
        if channel.id not in listed and his & kinds[channel.kind].address_kinds
    ]


async def customer_channel_ids(session: AsyncSession, customer_id: int) -> set[int]:
    """The channels where the customer has an identity (a key learnt through that channel) or
    has written: the only ones okno may send him anything through."""
    learnt = select(Identity.source_channel_id).where(Identity.customer_id == customer_id, Identity.source_channel_id.is_not(None))
    wrote = select(Message.channel_id).where(
        Message.customer_id == customer_id, Message.direction == Direction.inbound.value, Message.channel_id.is_not(None)
    )
    return set(await session.scalars(union(learnt, wrote)))


async def _reaches_by_public_address(session: AsyncSession, channel: Channel, customer_id: int) -> bool:
    """An SMS gateway writes to the customer's own phone number, not into another system: it
    reaches any customer who has an identity of a kind it addresses."""
    adapter = ADAPTERS.get(channel.kind)
    if adapter is None or not adapter.capabilities.public_address:
        return False
    kinds = adapter.capabilities.address_kinds
    found = await session.scalar(select(Identity.id).where(Identity.customer_id == customer_id, Identity.kind.in_(kinds)).limit(1))
    return found is not None


async def check_channel_reaches(session: AsyncSession, channel: Channel, customer_id: int, *, own_channel_id: int | None = None) -> None:
    """A reply, a file or a first message goes only through one of the customer's channels (or
    the conversation's own, ``own_channel_id``): another team's CRM behind an API channel must
    not receive this customer's name, phone or messages because an operator picked it."""
    if channel.id == own_channel_id or channel.id in await customer_channel_ids(session, customer_id):
        return
    if await _reaches_by_public_address(session, channel, customer_id):
        return
    raise Invalid(
        "channel %(channel_id)s can't reach customer %(customer_id)s: okno writes only through a channel where the customer has an identity or has written (or the conversation's own channel)", channel_id=channel.id, customer_id=customer_id
    )
