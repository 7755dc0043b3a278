"""Delivering a one-time code through a channel that proves the key it is meant to prove.

An adapter declares in ``Capabilities.one_time_codes`` the identity kinds it can deliver a code
to: whoever reads the code there holds that identity (a Telegram, WhatsApp, VK or MAX chat is
its user's own; an SMS gateway would declare ``phone``, an e-mail channel ``email``). For a key
``kind:value`` the routes are, in order:

1. an enabled channel that delivers straight to the key's kind (SMS for a phone, e-mail for an
   address): reading the code proves the key itself;
2. the identities of the key's owner that a channel delivers to, each on the channel it was
   learnt through (a bot can write only to users who wrote to it), the channel the owner wrote
   through last first: reading the code proves being that customer.

The code is sent with the adapter's own ``send`` (the provider's real API) and no transaction
open, the first route that accepts it wins. The code is never stored in plain text, so it is
not queued through the outbox or the delivery jobs: a failed send is not retried (the requester
asks again, within the send limits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import DeliveryError, OutboundMessage, Recipient
from okno.channels.registry import ADAPTERS
from okno.customers.identities import IdentityKey
from okno.models import Channel, Direction, Identity, Message

if TYPE_CHECKING:
    from okno.channels.directory import LiveChannel

log = structlog.get_logger()

SEND_TIMEOUT_SECONDS = 10.0
MAX_ROUTES = 3
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CodeRoute:
    channel_id: int
    identity: tuple[str, str]  # (kind, value) the code is written to
    proves_key: bool  # True: straight to the key; False: to the key owner's own messenger


def delivers(kind: str) -> frozenset[str]:
    """The identity kinds an adapter kind can deliver a one-time code to."""
    cls = ADAPTERS.get(kind)
    return getattr(cls.capabilities, "one_time_codes", frozenset()) if cls is not None else frozenset()


async def code_routes(session: AsyncSession, key: IdentityKey, owner_id: int | None) -> list[CodeRoute]:
    channels = dict((await session.execute(select(Channel.id, Channel.kind).where(Channel.is_active.is_(True)))).all())
    routes = [CodeRoute(cid, (key.kind, key.value), True) for cid, kind in sorted(channels.items()) if key.kind in delivers(kind)]
    if owner_id is None:
        return routes
    owned = (await session.execute(
        select(Identity.kind, Identity.value, Identity.source_channel_id).where(Identity.customer_id == owner_id).order_by(Identity.id)
    )).all()  # fmt: skip
    last_wrote = dict((await session.execute(
        select(Message.channel_id, func.max(Message.created_at))
        .where(Message.customer_id == owner_id, Message.direction == Direction.inbound.value)
        .group_by(Message.channel_id)
    )).all())  # fmt: skip
    theirs = [
        (channel_id, kind, value) for kind, value, channel_id in owned
        if channel_id in channels and kind in delivers(channels[channel_id])
    ]  # fmt: skip
    theirs.sort(key=lambda r: last_wrote.get(r[0]) or NEVER, reverse=True)  # stable: ties keep the order learnt
    routes += [CodeRoute(channel_id, (kind, value), False) for channel_id, kind, value in theirs]
    return routes


async def deliver_code(
    routes: list[CodeRoute],
    text: str,
    *,
    lookup: Callable[[int], Awaitable[LiveChannel | None]],
    http: httpx.AsyncClient,
    idempotency_key: str,
    customer_id: int,
) -> CodeRoute | None:
    """Sends ``text`` along the first route whose channel accepts it (at most :data:`MAX_ROUTES`
    are tried: the requester waits); None if none did."""
    for route in routes[:MAX_ROUTES]:
        channel = await lookup(route.channel_id)
        if channel is None:
            continue
        message = OutboundMessage(
            message_id=0, conversation_id=0, text=text, recipient=Recipient(customer_id=customer_id, name="", identities=(route.identity,)),
            idempotency_key=f"{idempotency_key}:{route.channel_id}", attempt=1,
        )  # fmt: skip
        try:
            await asyncio.wait_for(channel.adapter.send(channel.config, message, http), SEND_TIMEOUT_SECONDS)
        except (DeliveryError, httpx.HTTPError, TimeoutError) as exc:
            log.warning("one_time_code_not_delivered", channel_id=route.channel_id, kind=route.identity[0], error=str(exc)[:200])
            continue
        return route
    return None
