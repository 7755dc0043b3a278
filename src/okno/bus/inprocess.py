"""Calls an event's subscribers, each on its own: one that fails is reported by name (the relay
gives it its own retry), the others run regardless.

Two kinds of handler:
- *subscribers* (``subscribe``): durable reactions of a domain (routing, queues, SLA,
  automation). Each has a stable name (its module and function) under which a failed delivery
  is retried and, in the end, parked for a person.
- *listeners* (``listen``): process-local observers of every event (the operators' live feed).
  They never fail and are never retried.

A subscriber may also have a *batch form* (``subscribe(..., batch=...)``): given the relay's whole
leased batch (:meth:`InProcessBus.deliver_many`), it gets all of that batch's events it takes in
one call, in order, after the batch's other subscribers have run (it must be registered after
them for its topics, and must not depend on what they make of *later* events). If the batch form
raises, the subscriber is run again event by event (its per-event form), so only the event that
fails gets a retry. Retries and ``only=`` deliveries always use the per-event form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

import structlog

from okno.bus.catalog import event_type
from okno.bus.events import Event

log = structlog.get_logger()

Handler = Callable[[Event], Awaitable[None]]
BatchHandler = Callable[[list[Event]], Awaitable[None]]


class HandlerFailed(Exception):
    pass


def subscriber_name(handler: Callable[..., object]) -> str:
    """Stable across restarts (it is stored with a failed delivery): ``routing.hooks.route_new_conversation``."""
    module = handler.__module__.removeprefix("okno.")
    return f"{module}.{handler.__qualname__}"


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, dict[str, Handler]] = defaultdict(dict)
        self._listeners: list[Handler] = []
        self._batches: dict[str, BatchHandler] = {}  # subscriber name -> its batch form

    def subscribe(self, topic: str, handler: Handler, *, name: str | None = None, batch: BatchHandler | None = None) -> None:
        """Refuses a topic the catalogue does not know (a typo would never fire)."""
        event_type(topic)
        key = name or subscriber_name(handler)
        if key in self._subscribers[topic]:
            raise ValueError(f"{key} is subscribed to {topic!r} twice")
        self._subscribers[topic][key] = handler
        if batch is not None:
            self._batches[key] = batch

    def listen(self, handler: Handler) -> None:
        self._listeners.append(handler)

    def topics(self) -> list[str]:
        """Topics that have at least one subscriber."""
        return [topic for topic, handlers in self._subscribers.items() if handlers]

    def subscribers_of(self, topic: str) -> list[str]:
        return list(self._subscribers.get(topic, ()))

    async def deliver(self, event: Event, *, only: str | None = None) -> dict[str, str]:
        """Runs the topic's subscribers in order (or just ``only``); returns the failures by
        subscriber name. Listeners hear every event once, on its first delivery."""
        failures: dict[str, str] = {}
        for name, handler in self._subscribers.get(event.topic, {}).items():
            if only is not None and name != only:
                continue
            try:
                await handler(event)
            except Exception as exc:
                log.exception("event_subscriber_failed", topic=event.topic, event_id=event.id, subscriber=name)
                failures[name] = f"{type(exc).__name__}: {exc}"
        if only is None:
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:  # an observer must not turn into a retry of the subscribers
                    log.exception("event_listener_failed", topic=event.topic, event_id=event.id)
        return failures

    async def deliver_many(self, events: list[Event]) -> dict[int, dict[str, str]]:
        """A relay batch: what :meth:`deliver` does for each event, in order, except that
        subscribers with a batch form get their events of the batch afterwards in one call each.
        Returns the failures by event id, then subscriber name."""
        failures: dict[int, dict[str, str]] = {event.id: {} for event in events}
        held: dict[str, list[Event]] = {}
        for event in events:
            for name, handler in self._subscribers.get(event.topic, {}).items():
                if name in self._batches:
                    held.setdefault(name, []).append(event)
                    continue
                try:
                    await handler(event)
                except Exception as exc:
                    log.exception("event_subscriber_failed", topic=event.topic, event_id=event.id, subscriber=name)
                    failures[event.id][name] = f"{type(exc).__name__}: {exc}"
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:  # an observer must not turn into a retry of the subscribers
                    log.exception("event_listener_failed", topic=event.topic, event_id=event.id)
        for name, batch in held.items():
            try:
                await self._batches[name](batch)
            except Exception:
                log.warning("event_batch_failed", subscriber=name, events=len(batch), exc_info=True)
                for event in batch:  # one by one: only the event that fails gets a retry
                    failures[event.id].update(await self.deliver(event, only=name))
        return failures

    async def publish(self, event: Event) -> None:
        """Every subscriber once; raises if any failed (for one-shot callers and tests)."""
        failures = await self.deliver(event)
        if failures:
            raise HandlerFailed("; ".join(f"{name}: {error}" for name, error in failures.items()))
