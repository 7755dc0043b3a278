from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

import structlog

from okno.bus.events import Event

log = structlog.get_logger()

Handler = Callable[[Event], Awaitable[None]]


class HandlerFailed(Exception):
    pass


class InProcessBus:
    """Calls every subscriber of a topic; if any fails, the relay retries the event (handlers are idempotent)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        """``topic`` ``"*"`` receives every event."""
        self._handlers[topic].append(handler)

    async def publish(self, event: Event) -> None:
        failures: list[str] = []
        for handler in (*self._handlers.get(event.topic, ()), *self._handlers.get("*", ())):
            try:
                await handler(event)
            except Exception as exc:
                log.exception("event_handler_failed", topic=event.topic, event_id=event.id, handler=handler.__qualname__)
                failures.append(f"{handler.__qualname__}: {type(exc).__name__}: {exc}")
        if failures:
            raise HandlerFailed("; ".join(failures))
