"""Events the channels domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class MessageSent(EventType, topic="message.sent"):
    """The provider accepted an outbound message."""

    message_id: int
    conversation_id: int
    customer_id: int
    channel_id: int


@dataclass(frozen=True)
class MessageFailed(EventType, topic="message.failed"):
    """An outbound message could not be delivered (refused, or too many attempts)."""

    message_id: int
    conversation_id: int
    customer_id: int
    channel_id: int
    reason: str


@dataclass(frozen=True)
class ChannelHealthChanged(EventType, topic="channel.health_changed"):
    """A channel started or stopped needing an admin (a revoked token, a blocked account…)."""

    channel_id: int
    health: str  # "ok" | "needs_action"
    previous: str
    reason: str | None = None
