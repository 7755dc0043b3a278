"""Touches that describe one item: a call and its later events become ONE message.

A provider that reports an item in several events (a call: started, answered, ended) gives each
event's ``InboundMessage`` the same ``item_key``. The first event stores the message
(``provider_message_id`` = the key, its ``content`` the event's facts); every later one merges its
facts into that message's ``content`` and adds its attachments, instead of adding a message. The
events themselves are still deduplicated as raw items (``inbound_items``' provider id), so a
redelivered event changes nothing, and the merge is a union of facts, so events arriving out of
order end in the same content.

An update does not touch the conversation (it is no new message from the customer: a recording
arriving after an operator resolved the call does not reopen it). It writes a ``message.updated``
timeline entry and outbox event that the domains following the item (``okno.telephony``) read.

This is the rare path: a batch without item keys costs no statement here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_events
from okno.channels.base import InboundMessage
from okno.conversations.actors import CUSTOMER
from okno.models import Message, TimelineEvent

BY_CUSTOMER = CUSTOMER.columns()


class _Touch(Protocol):
    channel_id: int
    item: InboundMessage
    received_at: datetime


def merge_content(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Each section (``call``…) merged key by key: lists are united in order, other facts of the
    later event win (facts of one item's events don't contradict; an order-free union)."""
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (old or {}).items()}
    for section, facts in (new or {}).items():
        if not isinstance(facts, dict) or not isinstance(merged.get(section), dict):
            merged[section] = facts
            continue
        target = merged[section]
        for key, value in facts.items():
            if isinstance(value, list) and isinstance(target.get(key), list):
                target[key] = target[key] + [v for v in value if v not in target[key]]
            elif key == "answered" and target.get(key) is True:
                continue  # an answered call stays answered, whatever a later event says
            else:
                target[key] = value
    return merged


def merge_attachments(old: list[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return old + [a for a in new if a not in old]


async def merge_items(session: AsyncSession, touches: list[_Touch]) -> list[_Touch]:
    """Merges the touches of items already stored into their messages; of the others, keeps the
    first touch of each item (carrying the facts of the item's later touches in the batch) for
    the pipeline to store. Returns the touches that still make messages, in order."""
    keyed = [t for t in touches if t.item.item_key is not None]
    if not keyed:
        return touches
    stored = await _stored(session, {(t.channel_id, t.item.item_key) for t in keyed})  # type: ignore[misc]
    first: dict[tuple[int, str], _Touch] = {}
    updates: dict[int, list[_Touch]] = {}
    kept: list[_Touch] = []
    for touch in touches:
        key = (touch.channel_id, touch.item.item_key)
        if touch.item.item_key is None:
            kept.append(touch)
        elif key in stored:
            updates.setdefault(stored[key].id, []).append(touch)
        elif key in first:
            head = first[key]
            head.item.content = merge_content(head.item.content, touch.item.content)
            head.item.attachments = merge_attachments(head.item.attachments, touch.item.attachments)
        else:
            first[key] = touch  # type: ignore[index]
            kept.append(touch)
    await _apply_updates(session, {m.id: m for m in stored.values()}, updates)
    return kept


async def _stored(session: AsyncSession, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    clauses = [and_(Message.channel_id == channel_id, Message.provider_message_id == key) for channel_id, key in keys]
    rows = await session.execute(
        select(Message.id, Message.channel_id, Message.provider_message_id, Message.conversation_id, Message.customer_id, Message.content, Message.attachments)
        .where(or_(*clauses), Message.direction == "in")
        .order_by(Message.id)
        .with_for_update()  # PostgreSQL: okno.telephony notes what it did in the same content
    )
    return {(r.channel_id, r.provider_message_id): r for r in rows}


async def _apply_updates(session: AsyncSession, messages: dict[int, Any], updates: dict[int, list[_Touch]]) -> None:
    timeline: list[dict] = []
    events: list[tuple[str, dict]] = []
    for message_id, touches in updates.items():
        message = messages[message_id]
        content, attachments = message.content, list(message.attachments or [])
        for touch in touches:
            content = merge_content(content, touch.item.content)
            attachments = merge_attachments(attachments, touch.item.attachments)
            ids = {"message_id": message_id, "conversation_id": message.conversation_id, "customer_id": message.customer_id, "channel_id": touch.channel_id}
            timeline.append({**ids, **BY_CUSTOMER, "kind": "message.updated", "occurred_at": touch.received_at, "data": {"content": touch.item.content or {}}})
            events.append(("message.updated", ids))
        await session.execute(update(Message).where(Message.id == message_id).values(content=content, attachments=attachments))
    if timeline:
        await session.execute(TimelineEvent.__table__.insert(), timeline)
        await record_events(session, events)
