"""Calls an event's subscribers, each on its own: one that fails is reported by name (the relay
gives it its own retry), the others run regardless.

Two kinds of handler:
- *subscribers* (``subscribe``): durable reactions of a domain (routing, queues, SLA,
  automation). Each has a stable name (its module and function) under which a failed delivery
  is retried and, in the end, parked for a person.
- *listeners* (``listen``): process-local observers of every event (the operators' live feed).
  They never fail and are never retried.

A subscriber may also have a *batch form* (``subscribe(..., batch=...)``): given the relay's whole
leased batch (:meth:`InProcessBus.deliver_many`), it gets that batch's events it takes in few
calls, each a list in order. The batch is cut into *rounds* so that no customer (nor
conversation) has two events in one round: a customer's second event goes to the next round,
an event that names neither goes after everything before it with the others of its kind (keyed
by the ids it names). Within a round the subscribers run one after another in the order they
have on every topic (one order for all topics, from the order of subscription), each over all
the round's events it takes: a batch form in one call, a plain subscriber event by event. So
for one customer everything happens exactly as event by event (each event's subscribers in
their order, then its next event); only between different customers may one subscriber's work
on a later event run before another subscriber's on an earlier one. If the batch form raises,
the subscriber is run again event by event (its per-event form), so only the event that fails
gets a retry (a batch form that raises :class:`EventByEvent` asks for that at once, with no warning:
a filter for a subscriber that rarely has anything to do). Retries and ``only=`` deliveries
always use the per-event form.

A batch form may also take the *whole* batch (``subscribe(..., batch=..., whole_batch=True)``):
it is called once, after every round (and their listeners), with all the batch's events it takes,
in order. That is only for a *sink*: a subscriber whose writes no other subscriber reads and
whose reads of what the others write are taken as of when it runs, so that running after the
batch's later rounds is the same as running a little later, as any relay lag does (the analytics
projection: one transaction for the batch instead of one per round).
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


class EventByEvent(Exception):  # noqa: N818 (a request, not an error)
    """Raised by a batch form, before it does anything, to have the subscriber run event by event
    instead (its per-event form): a filter that sees at once that most batches need nothing and
    leaves the rare one that does to the per-event form, each event with its own retry."""


def subscriber_name(handler: Callable[..., object]) -> str:
    """Stable across restarts (it is stored with a failed delivery): ``routing.hooks.route_new_conversation``."""
    module = handler.__module__.removeprefix("okno.")
    return f"{module}.{handler.__qualname__}"


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, dict[str, Handler]] = defaultdict(dict)
        self._listeners: list[Handler] = []
        self._batches: dict[str, BatchHandler] = {}  # subscriber name -> its batch form
        self._whole_batch: set[str] = set()  # subscribers whose batch form takes the whole batch, after its rounds
        self._ordered: list[str] | None = None  # every subscriber in one order (deliver_many)
        # per topic: its subscribers that run in the rounds, and the whole-batch ones (deliver_many)
        self._split: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def subscribe(
        self, topic: str, handler: Handler, *, name: str | None = None, batch: BatchHandler | None = None, whole_batch: bool = False
    ) -> None:
        """Refuses a topic the catalogue does not know (a typo would never fire). ``whole_batch``:
        the batch form takes the relay's whole batch after its rounds (a sink; see the module's notes)."""
        event_type(topic)
        key = name or subscriber_name(handler)
        if key in self._subscribers[topic]:
            raise ValueError(f"{key} is subscribed to {topic!r} twice")
        if whole_batch and batch is None:
            raise ValueError(f"{key}: only a batch form takes the whole batch")
        self._subscribers[topic][key] = handler
        self._ordered = None
        self._split.clear()
        if batch is not None:
            self._batches[key] = batch
        if whole_batch:
            self._whole_batch.add(key)

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
            await self._tell_listeners(event)
        return failures

    async def _tell_listeners(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:  # an observer must not turn into a retry of the subscribers
                log.exception("event_listener_failed", topic=event.topic, event_id=event.id)

    async def deliver_many(self, events: list[Event]) -> dict[int, dict[str, str]]:
        """A relay batch: what :meth:`deliver` does for each event, round by round (see the
        module's notes), batch forms taking a round's events in one call.
        Returns the failures by event id, then subscriber name."""
        failures: dict[int, dict[str, str]] = {event.id: {} for event in events}
        order = self._order()
        split = self._split_of
        later: dict[str, list[Event]] = {}  # the whole-batch subscribers' events, in the batch's order
        if self._whole_batch:
            for event in events:
                for name in split(event.topic)[1]:
                    later.setdefault(name, []).append(event)
        listeners = self._listeners
        for round_events in _rounds(events):
            taken_by: dict[str, list[Event]] = {}  # each subscriber's events of the round, in order
            for event in round_events:
                for name in split(event.topic)[0]:
                    taken = taken_by.get(name)
                    if taken is None:
                        taken_by[name] = [event]
                    else:
                        taken.append(event)
            for name in order:
                taken = taken_by.get(name)
                if taken:
                    await self._run_batch(name, taken, failures)
            if listeners:
                for event in round_events:
                    await self._tell_listeners(event)
        if later:
            for name in order:
                taken = later.get(name)
                if taken:
                    await self._run_batch(name, taken, failures)
        return failures

    def _split_of(self, topic: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The topic's subscribers that run in the rounds and those that take the whole batch."""
        split = self._split.get(topic)
        if split is None:
            names = tuple(self._subscribers.get(topic, ()))
            whole = self._whole_batch
            split = self._split[topic] = (tuple(n for n in names if n not in whole), tuple(n for n in names if n in whole))
        return split

    async def _run_batch(self, name: str, taken: list[Event], failures: dict[int, dict[str, str]]) -> None:
        """One subscriber over its events of a round (or of the batch): its batch form if it has
        one, else (or if that raised) event by event, so only an event that fails gets a retry."""
        batch = self._batches.get(name)
        if batch is not None:
            try:
                await batch(taken)
                return
            except EventByEvent:
                pass
            except Exception:
                log.warning("event_batch_failed", subscriber=name, events=len(taken), exc_info=True)
        for event in taken:
            try:
                await self._subscribers[event.topic][name](event)
            except Exception as exc:
                log.exception("event_subscriber_failed", topic=event.topic, event_id=event.id, subscriber=name)
                failures[event.id][name] = f"{type(exc).__name__}: {exc}"

    def _order(self) -> list[str]:
        """Every subscriber name in one order that keeps each topic's own order (a topological
        order, the earlier subscribed first among equals)."""
        if self._ordered is not None:
            return self._ordered
        first_seen: dict[str, int] = {}
        after: dict[str, set[str]] = defaultdict(set)
        for handlers in self._subscribers.values():
            names = list(handlers)
            for index, name in enumerate(names):
                first_seen.setdefault(name, len(first_seen))
                if index:
                    after[name].add(names[index - 1])
        ordered: list[str] = []
        placed: set[str] = set()
        while len(ordered) < len(first_seen):
            ready = [n for n in first_seen if n not in placed and after[n] <= placed]
            if not ready:  # topics disagree on the order: fall back to first subscription
                ready = [n for n in first_seen if n not in placed]
            name = min(ready, key=first_seen.__getitem__)
            ordered.append(name)
            placed.add(name)
        self._ordered = ordered
        return ordered

    async def publish(self, event: Event) -> None:
        """Every subscriber once; raises if any failed (for one-shot callers and tests)."""
        failures = await self.deliver(event)
        if failures:
            raise HandlerFailed("; ".join(f"{name}: {error}" for name, error in failures.items()))


def _other_ids(payload: dict) -> list[tuple[str, object]]:
    """What an event about neither a customer nor a conversation is about, for cutting rounds:
    the other ids it names. (A customer's or conversation's event is about those two ids:
    :func:`_rounds` reads them itself.)"""
    return [(name, value) for name, value in payload.items() if name.endswith("_id") and isinstance(value, int)]


def _rounds(events: list[Event]) -> list[list[Event]]:
    """Each event goes to the round after the last one holding any of its keys. An event about
    neither a customer nor a conversation (it may touch many) goes after every round before it,
    beside only such events, and the events after it go after it."""
    rounds: list[list[Event]] = []
    last: dict[tuple[str, object], int] = {}
    floor = 0  # no customer's event goes before this round
    wide_round = -2  # the round of the latest event about no customer
    for event in events:
        payload = event.payload
        customer, conversation = payload.get("customer_id"), payload.get("conversation_id")
        # most events: their keys read here, not in a helper: a call per event cost 0.2-0.4 µs
        # of ~0.7-1.0 µs an event in _rounds (timeit, 1,200 events of a relay batch's mix)
        if customer is not None or conversation is not None:
            keys = [("customer_id", customer)] if customer is not None else []
            if conversation is not None:
                keys.append(("conversation_id", conversation))
            index = floor
            for key in keys:
                held = last.get(key)
                if held is not None and held >= index:
                    index = held + 1
        else:
            keys = _other_ids(payload)
            joins = wide_round if wide_round == len(rounds) - 1 else len(rounds)  # beside the wide events just before
            index = max([joins, *(last[key] + 1 for key in keys if key in last)])
            floor, wide_round = index + 1, index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(event)
        for key in keys:
            last[key] = index
    return rounds
