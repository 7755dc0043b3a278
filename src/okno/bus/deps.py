"""What an event subscriber is given: the few services it may use, not the application.

Subscribers are called ``handler(deps, event)``. They open their own transactions on ``db``,
look channels up through ``channels`` (cached, no adapter import needed) and read settings;
anything else (HTTP calls, heavy computation) is a durable job or a worker of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from okno.bus.events import Event
from okno.config import Settings
from okno.kit.db import Database


class ChannelLookup(Protocol):
    """``ChannelDirectory`` as subscribers see it: the live channel (kind, team_id, adapter) or None."""

    async def get(self, channel_id: int) -> Any: ...


@dataclass(frozen=True)
class SubscriberDeps:
    db: Database
    channels: ChannelLookup
    settings: Settings


Subscriber = Callable[[SubscriberDeps, Event], Awaitable[None]]
