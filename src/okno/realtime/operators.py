"""The operators' live feed: every committed outbox event, pushed to open browser streams.

Each browser receives only the events of conversations (and customers) its operator may see
(``VisibleEvents``, the rules of ``okno.access``). The outbox row id is the feed's sequence number. A browser that reconnects sends the last id it
saw and gets the committed events after it from the outbox table, so a dropped connection
misses nothing (ids can commit slightly out of order on PostgreSQL, so the replay starts a
little before the last id and the browser ignores ids it has already seen).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.guards import visible_conversations_among, visible_customers_among
from okno.bus.events import Event
from okno.kit.db import Database
from okno.kit.fanout import Fanout
from okno.models import Operator, OutboxEvent

REPLAY_OVERLAP = 100
REPLAY_LIMIT = 500


def wire_event(event_id: int, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "topic": topic, **{k: v for k, v in payload.items() if k in _FORWARDED}}


# what a browser needs to decide what to refresh; the rest of a payload stays on the server
_FORWARDED = frozenset({"conversation_id", "customer_id", "message_id", "channel_id", "status", "operator_id", "team_id"})


PRESENCE_FANOUT = "presence"


def customer_typing(conversation_id: int, *, seconds: int) -> dict[str, Any]:
    """The live-feed message that the conversation's customer is typing (``okno.channels.typing``)."""
    return {"presence": True, "conversation_id": conversation_id, "customer": True, "typing": True, "seconds": seconds}


class OperatorFeed:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._fanout: Fanout | None = None
        self._before_offer: list[Callable[[], None]] = []

    def on_every_event(self, callback: Callable[[], None]) -> None:
        """``callback`` runs for every event before any browser hears of it: what a browser reads
        in answer to an event (``okno.conversations.shared_counts``) is then never from before it."""
        self._before_offer.append(callback)

    def attach(self, fanout: Fanout) -> None:
        """Presence goes through the fan-out (NATS with ``OKNO_BUS_URL``): operators of every
        process see who is looking at or typing in a conversation."""
        self._fanout = fanout
        fanout.subscribe(PRESENCE_FANOUT, self._offer)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def publish_presence(self, *, conversation_id: int, operator_id: int, name: str, typing: bool) -> None:
        """Ephemeral: who is looking at or typing in a conversation (never stored, never replayed)."""
        message = {"presence": True, "conversation_id": conversation_id, "operator_id": operator_id, "name": name, "typing": typing}
        if self._fanout is None:
            self._offer(message)
        else:
            await self._fanout.publish(PRESENCE_FANOUT, message)

    def _offer(self, message: dict[str, Any]) -> None:
        for queue in self._queues:
            if not queue.full():
                queue.put_nowait(message)

    async def on_event(self, event: Event) -> None:
        """Bus subscriber for every topic; never fails (a stuck browser catches up on reconnect)."""
        for callback in self._before_offer:
            callback()
        if not self._queues:
            return  # nobody is watching: not even the serialisation
        message = wire_event(event.id, event.topic, event.payload)
        for queue in self._queues:
            if not queue.full():
                queue.put_nowait(message)


async def events_after(session: AsyncSession, last_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload)
        .where(OutboxEvent.id > max(last_id - REPLAY_OVERLAP, 0), OutboxEvent.published_at.is_not(None))
        .order_by(OutboxEvent.id)
        .limit(REPLAY_LIMIT)
    )
    return [wire_event(r.id, r.topic, r.payload) for r in rows]


class FeedTail:
    """The live feed of a serving process whose relay runs in ``okno worker``: pushes the events
    the worker published, read from the outbox by id. It reads nothing while no browser listens,
    and starts from the newest event when the first one connects (a browser replays its own gap
    with ``events_after``)."""

    def __init__(self, db: Database, feed: OperatorFeed) -> None:
        self.db = db
        self.feed = feed
        self.last_id: int | None = None

    async def drain_once(self) -> int:
        if not self.feed.listeners:
            self.last_id = None
            return 0
        async with self.db.reading() as session:
            if self.last_id is None:
                self.last_id = int(await session.scalar(select(func.max(OutboxEvent.id)).where(OutboxEvent.published_at.is_not(None))) or 0)
                return 0
            rows = (
                await session.execute(
                    select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
                    .where(OutboxEvent.id > self.last_id, OutboxEvent.published_at.is_not(None))
                    .order_by(OutboxEvent.id)
                    .limit(REPLAY_LIMIT)
                )
            ).all()
        for row in rows:
            await self.feed.on_event(Event(id=row.id, topic=row.topic, payload=row.payload, created_at=row.created_at))
            self.last_id = row.id
        return len(rows)


class VisibleEvents:
    """What one operator's stream may carry: an event about a conversation only while he may see
    that conversation, one about a customer (and no conversation) only while he may see the
    customer; events about neither (a channel's health, presence) carry no customer data and pass.

    Visibility is read when the events go out, one query per burst, so a team membership change
    applies to the next event. ``refresh`` re-reads the operator's role and whether he is still
    active (the stream calls it on every heartbeat)."""

    def __init__(self, db: Database, scope: Scope) -> None:
        self.db = db
        self.scope = scope

    async def refresh(self) -> bool:
        """False when the operator was deactivated or deleted: the stream ends."""
        async with self.db.reading() as session:
            row = (await session.execute(select(Operator.role, Operator.is_active).where(Operator.id == self.scope.operator_id))).first()
        if row is None or not row.is_active:
            return False
        self.scope = dataclasses.replace(self.scope, role=row.role)
        return True

    async def only_visible(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.scope.sees_everything or not events:
            return events
        conversation_ids = {e["conversation_id"] for e in events if e.get("conversation_id") is not None}
        customer_ids = {e["customer_id"] for e in events if e.get("conversation_id") is None and e.get("customer_id") is not None}
        if not conversation_ids and not customer_ids:
            return events
        async with self.db.reading() as session:
            conversations = await visible_conversations_among(session, self.scope, conversation_ids)
            customers = await visible_customers_among(session, self.scope, customer_ids)
        return [e for e in events if _shown(e, conversations, customers)]


def _shown(event: dict[str, Any], conversations: set[int], customers: set[int]) -> bool:
    if event.get("conversation_id") is not None:
        return event["conversation_id"] in conversations
    if event.get("customer_id") is not None:
        return event["customer_id"] in customers
    return True
