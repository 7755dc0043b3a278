"""The thread key an inbound message is grouped by, from its channel's declared threading.

A channel's kind never changes and ids are never handed out twice, so each channel's threading
is read once per database engine and kept: most ingest batches pay no statement for it.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import InboundMessage, Threading
from okno.channels.registry import ADAPTERS
from okno.models import Channel

_known: WeakKeyDictionary[Engine, dict[int, Threading]] = WeakKeyDictionary()


async def threading_of(session: AsyncSession, channel_ids: set[int]) -> dict[int, Threading]:
    """Each channel's threading (a kind no longer installed threads per customer)."""
    engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
    known = _known.setdefault(engine, {})
    if missing := channel_ids - known.keys():
        for channel_id, kind in await session.execute(select(Channel.id, Channel.kind).where(Channel.id.in_(missing))):
            adapter = ADAPTERS.get(kind)
            known[channel_id] = adapter.capabilities.threading if adapter is not None else Threading.per_customer
    return {channel_id: known.get(channel_id, Threading.per_customer) for channel_id in channel_ids}


def thread_key_of(item: InboundMessage, threading: Threading) -> str | None:
    """None: the touch threads per customer. A message on a per-thread channel that names no
    thread starts its own (keyed by its message id); on a per-item channel each is its own."""
    if threading is Threading.per_item:
        return item.provider_id
    if item.thread_key is not None:
        return item.thread_key
    if threading is Threading.per_thread:
        return item.provider_message_id or item.provider_id
    return None
