"""Fan-out of ephemeral messages to whatever listens in *every* process (live clients).

In one process (the embedded default) :class:`LocalFanout` hands a message straight to the
callbacks registered under its name. With ``OKNO_BUS_URL`` set, ``okno.bus.nats.NatsFanout``
publishes it on a NATS core subject that every serving process subscribes to, so a widget
visitor or an operator connected to process A hears what process B produced. Messages are
never stored here: whoever needs replay reads its own durable stream (the visitor's
``visitor_events``, the outbox) on reconnect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger()

Callback = Callable[[dict[str, Any]], None]


class Fanout(Protocol):
    async def publish(self, name: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, name: str, callback: Callback) -> None: ...


class LocalFanout:
    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)

    def subscribe(self, name: str, callback: Callback) -> None:
        self._callbacks[name].append(callback)

    async def publish(self, name: str, message: dict[str, Any]) -> None:
        self.dispatch(name, message)

    def dispatch(self, name: str, message: dict[str, Any]) -> None:
        for callback in self._callbacks.get(name, ()):
            try:
                callback(message)
            except Exception:  # one listener must not starve the others
                log.exception("fanout_callback_failed", fanout=name)
