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
from okno.models import Channel, Conversation, Message

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


CONVERSATION_REF = "conversation:"


async def follow_thread_refs(
    session: AsyncSession, asked: list[tuple[int, int, list[str]]], keys: list[str | None]
) -> list[str | None]:
    """``keys`` with each message's thread replaced by the thread of the first of its references
    (``InboundMessage.thread_refs``) that is a message or conversation of the SAME customer on
    the SAME channel: a reply to okno's own reply finds its thread by the id okno sent, and an id
    someone else knows never attaches a touch to another customer. One statement per kind of
    reference present; none when no message carries references."""
    wanted = [(i, channel_id, customer_id, refs) for i, (channel_id, customer_id, refs) in enumerate(asked) if refs]
    if not wanted:
        return keys
    channels = sorted({channel_id for _, channel_id, _, _ in wanted})
    ids = sorted({ref for *_, refs in wanted for ref in refs if not ref.startswith(CONVERSATION_REF)})
    conversations = sorted({int(n) for *_, refs in wanted for ref in refs if ref.startswith(CONVERSATION_REF) and (n := ref[len(CONVERSATION_REF):]).isdigit()})
    known: dict[tuple[int, int, str], str] = {}
    if ids:
        rows = await session.execute(
            select(Message.channel_id, Conversation.customer_id, Message.provider_message_id, Conversation.thread_key)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.channel_id.in_(channels), Message.provider_message_id.in_(ids), Conversation.thread_key.is_not(None))
            .order_by(Message.id)
        )
        for channel_id, customer_id, ref, thread_key in rows:
            known.setdefault((channel_id, customer_id, ref), thread_key)
    if conversations:
        rows = await session.execute(
            select(Conversation.channel_id, Conversation.customer_id, Conversation.id, Conversation.thread_key)
            .where(Conversation.id.in_(conversations), Conversation.channel_id.in_(channels), Conversation.thread_key.is_not(None))
        )
        for channel_id, customer_id, conversation_id, thread_key in rows:
            known[(channel_id, customer_id, f"{CONVERSATION_REF}{conversation_id}")] = thread_key
    followed = list(keys)
    for i, channel_id, customer_id, refs in wanted:
        found = next((known[(channel_id, customer_id, ref)] for ref in refs if (channel_id, customer_id, ref) in known), None)
        if found is not None:
            followed[i] = found
    return followed
