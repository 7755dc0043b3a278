"""Events as they travel from the outbox to subscribers, and the transport contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    id: int  # the outbox row id: subscribers use it to stay idempotent
    topic: str
    payload: dict[str, Any]
    created_at: datetime


class Transport(Protocol):
    """Where the relay delivers: runs the event's subscribers (or only the one named) and returns
    the failures by subscriber name. In-process today (:class:`okno.bus.inprocess.InProcessBus`)."""

    async def deliver(self, event: Event, *, only: str | None = None) -> dict[str, str]: ...

    def subscribers_of(self, topic: str) -> list[str]: ...
