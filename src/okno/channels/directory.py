"""In-memory cache of live channels (adapter + opened config) for the hot paths.

Entries expire after ``ttl`` seconds so a change made by another process is seen soon; changes
made in this process invalidate at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import structlog
from pydantic import BaseModel

from okno.channels.base import ChannelAdapter
from okno.channels.registry import ADAPTERS, build_adapter
from okno.channels.runtime import AdapterRuntime
from okno.channels.service import open_config
from okno.kit.crypto import SecretBox
from okno.kit.db import Database
from okno.models import Channel

log = structlog.get_logger()


@dataclass(frozen=True)
class LiveChannel:
    id: int
    kind: str
    name: str
    team_id: int | None
    adapter: ChannelAdapter
    config: BaseModel
    is_active: bool = True
    health: str = "ok"  # "ok" | "needs_action"


class ChannelDirectory:
    def __init__(self, db: Database, box: SecretBox, *, runtime: AdapterRuntime | None = None, ttl: float = 10.0) -> None:
        self.db = db
        self.box = box
        self.runtime = runtime
        self.ttl = ttl
        self._entries: dict[int, tuple[float, LiveChannel | None]] = {}

    async def get(self, channel_id: int) -> LiveChannel | None:
        """An enabled channel, or None (missing or disabled)."""
        live = await self.find(channel_id)
        return live if live is not None and live.is_active else None

    def cached(self, channel_id: int) -> LiveChannel | None | Literal[False]:
        """:meth:`find`'s answer while it is cached and fresh, else False (``find`` reads it): the
        webhook fast path's usual lookup without a coroutine."""
        cached = self._entries.get(channel_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return False

    async def find(self, channel_id: int) -> LiveChannel | None:
        """The channel whether enabled or not (``is_active`` says), or None if there is none (or
        no adapter is installed for its kind any more)."""
        cached = self._entries.get(channel_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.reading() as session:
            channel = await session.get(Channel, channel_id)
        live = None
        if channel is not None and channel.kind not in ADAPTERS:  # its plugin was uninstalled
            log.error("channel_kind_not_installed", channel_id=channel.id, kind=channel.kind)
        elif channel is not None:
            adapter = build_adapter(channel.kind, channel.id)
            if self.runtime is not None and hasattr(adapter, "bind_runtime"):
                adapter.bind_runtime(self.runtime)
            live = LiveChannel(
                id=channel.id,
                kind=channel.kind,
                name=channel.name,
                team_id=channel.team_id,
                adapter=adapter,
                config=open_config(self.box, channel),
                is_active=channel.is_active,
                health=channel.health,
            )
        self._entries[channel_id] = (time.monotonic() + self.ttl, live)
        return live

    def invalidate(self, channel_id: int | None = None) -> None:
        if channel_id is None:
            self._entries.clear()
        else:
            self._entries.pop(channel_id, None)
