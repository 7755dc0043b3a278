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
    """Where the relay publishes. In-process now; a NATS JetStream transport implements the same
    call (with the event id as ``Nats-Msg-Id`` for dedupe) for scale-out."""

    async def publish(self, event: Event) -> None: ...
