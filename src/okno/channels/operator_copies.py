"""Copies of what an operator sent without okno, which reach the channel as inbound items: an
operator answering a customer from his own mail client with the support mailbox in Cc (or
forwarding his answer into it). The adapter says whose copy it is
(``InboundMessage.operator_id``); here it becomes that operator's outbound message in the
conversation it answers, and never a customer's touch: the operator's address becomes nobody's
identity. A copy that names no conversation of the channel okno knows is not filed (logged).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import InboundMessage
from okno.channels.thread_keys import CONVERSATION_REF
from okno.conversations.replies import record_reply_sent_elsewhere
from okno.models import Conversation, Message, Operator

log = structlog.get_logger()


class Copy(Protocol):
    channel_id: int
    item: InboundMessage
    received_at: datetime
    text: str
    html: str | None


async def file_operator_copies(session: AsyncSession, copies: Sequence[Copy]) -> int:
    """Files each copy in the conversation its first known reference names (a message or a
    conversation on the same channel, in a thread); the number filed. Three statements a batch."""
    channels = sorted({c.channel_id for c in copies})
    refs = {ref for c in copies for ref in _refs(c.item)}
    ids = sorted(r for r in refs if not r.startswith(CONVERSATION_REF))
    numbers = sorted({int(n) for r in refs if r.startswith(CONVERSATION_REF) and (n := r[len(CONVERSATION_REF):]).isdigit()})
    known: dict[tuple[int, str], int] = {}
    if ids:
        rows = await session.execute(
            select(Message.channel_id, Message.provider_message_id, Message.conversation_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.channel_id.in_(channels), Message.provider_message_id.in_(ids), Conversation.thread_key.is_not(None))
            .order_by(Message.id)
        )
        for channel_id, ref, conversation_id in rows:
            known.setdefault((channel_id, ref), conversation_id)
    if numbers:
        rows = await session.execute(
            select(Conversation.channel_id, Conversation.id).where(Conversation.id.in_(numbers), Conversation.channel_id.in_(channels))
        )
        for channel_id, conversation_id in rows:
            known[(channel_id, f"{CONVERSATION_REF}{conversation_id}")] = conversation_id
    active = set(await session.scalars(select(Operator.id).where(Operator.id.in_({c.item.operator_id for c in copies}), Operator.is_active.is_(True))))
    filed = 0
    for copy in copies:
        found = next((known[(copy.channel_id, r)] for r in _refs(copy.item) if (copy.channel_id, r) in known), None)
        if found is None or copy.item.operator_id not in active:
            log.warning("operator_copy_not_filed", channel_id=copy.channel_id, provider_id=copy.item.provider_id,
                        reason="no known conversation" if found is None else "not an active operator")
            continue
        conversation = await session.get(Conversation, found)
        if conversation is None:
            continue
        await record_reply_sent_elsewhere(
            session, conversation, author_id=copy.item.operator_id, channel_id=copy.channel_id, text=copy.text, html=copy.html,  # type: ignore[arg-type]
            subject=copy.item.subject, provider_message_id=copy.item.provider_message_id, attachments=copy.item.attachments,
            at=copy.received_at,
        )
        filed += 1
    return filed


def _refs(item: InboundMessage) -> list[str]:
    return [*item.thread_refs, *([item.thread_key] if item.thread_key else [])]
