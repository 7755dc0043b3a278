"""Each visitor's durable, numbered stream, and the in-process hub that pushes it to open sockets."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.fanout import Fanout
from okno.models import VisitorEvent

StreamKey = tuple[int, str]  # (channel_id, visitor_id)


async def append_event(
    session: AsyncSession, *, channel_id: int, visitor_id: str, kind: str, payload: dict[str, Any], client_id: str | None = None
) -> VisitorEvent:
    last = await session.scalar(
        select(func.max(VisitorEvent.seq)).where(VisitorEvent.channel_id == channel_id, VisitorEvent.visitor_id == visitor_id)
    )
    event = VisitorEvent(channel_id=channel_id, visitor_id=visitor_id, seq=(last or 0) + 1, kind=kind, client_id=client_id, payload=payload)
    session.add(event)
    await session.flush()
    return event


async def event_by_client_id(session: AsyncSession, channel_id: int, visitor_id: str, client_id: str) -> VisitorEvent | None:
    return await session.scalar(
        select(VisitorEvent).where(
            VisitorEvent.channel_id == channel_id, VisitorEvent.visitor_id == visitor_id, VisitorEvent.client_id == client_id
        )
    )


async def events_after(session: AsyncSession, channel_id: int, visitor_id: str, seq: int, *, limit: int = 500) -> list[VisitorEvent]:
    rows = await session.scalars(
        select(VisitorEvent)
        .where(VisitorEvent.channel_id == channel_id, VisitorEvent.visitor_id == visitor_id, VisitorEvent.seq > seq)
        .order_by(VisitorEvent.seq)
        .limit(limit)
    )
    return list(rows.all())


def wire_event(event: VisitorEvent) -> dict[str, Any]:
    """The event as the widget receives it."""
    return {"type": "message", "seq": event.seq, "from": event.kind, "client_id": event.client_id, **event.payload}


FANOUT = "widget"


class VisitorHub:
    """Open widget sockets by stream; a committed event is offered to each of them, in every
    process: ``publish`` goes through the runtime's fan-out (NATS with ``OKNO_BUS_URL``), whose
    delivery in each process offers it to that process's sockets."""

    def __init__(self) -> None:
        self._queues: dict[StreamKey, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._fanout: Fanout | None = None

    def attach(self, fanout: Fanout) -> None:
        self._fanout = fanout
        fanout.subscribe(FANOUT, self._from_fanout)

    def _from_fanout(self, data: dict[str, Any]) -> None:
        channel_id, visitor_id = data["key"]
        self.offer((int(channel_id), str(visitor_id)), data["message"])

    def subscribe(self, key: StreamKey) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._queues[key].add(queue)
        return queue

    def unsubscribe(self, key: StreamKey, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues[key].discard(queue)
        if not self._queues[key]:
            del self._queues[key]

    async def publish(self, key: StreamKey, message: dict[str, Any]) -> None:
        if self._fanout is None:
            self.offer(key, message)
        else:
            await self._fanout.publish(FANOUT, {"key": list(key), "message": message})

    def offer(self, key: StreamKey, message: dict[str, Any]) -> None:
        """To this process's sockets of the stream (a socket skips a seq it already sent)."""
        for queue in self._queues.get(key, ()):
            if queue.full():  # a stuck socket catches up from the database on reconnect
                continue
            queue.put_nowait(message)
