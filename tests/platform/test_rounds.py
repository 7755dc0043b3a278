"""How the in-process bus cuts a relay batch into rounds and orders its subscribers: one
customer's events stay in order, one per round; an event about no customer stands between the
others; the bootstrap's subscribers have one order that every topic keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from okno.bootstrap import wire_subscribers
from okno.bus.events import Event
from okno.bus.inprocess import EventByEvent, InProcessBus, _rounds

AT = datetime(2026, 12, 6, tzinfo=UTC)


def event(event_id: int, topic: str, **payload: object) -> Event:
    return Event(id=event_id, topic=topic, payload=payload, created_at=AT)


def ids(rounds: list[list[Event]]) -> list[list[int]]:
    return [[e.id for e in r] for r in rounds]


def test_a_customers_events_go_to_successive_rounds_and_other_customers_fill_them() -> None:
    batch = [
        event(1, "customer.created", customer_id=7),
        event(2, "conversation.opened", conversation_id=70, customer_id=7),
        event(3, "customer.created", customer_id=8),
        event(4, "conversation.opened", conversation_id=80, customer_id=8),
        event(5, "message.received", conversation_id=70, customer_id=7, message_id=1, channel_id=None),
    ]
    assert ids(_rounds(batch)) == [[1, 3], [2, 4], [5]]


def test_an_event_about_no_customer_stands_between_what_came_before_and_after() -> None:
    batch = [
        event(1, "conversation.opened", conversation_id=70, customer_id=7),
        event(2, "team.changed", team_id=1),
        event(3, "team.changed", team_id=2),
        event(4, "team.changed", team_id=1),
        event(5, "conversation.opened", conversation_id=80, customer_id=8),
    ]
    assert ids(_rounds(batch)) == [[1], [2, 3], [4], [5]]


def test_the_bootstrap_subscribers_have_one_order_that_every_topic_keeps() -> None:
    bus = InProcessBus()
    wire_subscribers(bus, None)  # type: ignore[arg-type]  # wiring only: no handler runs here
    position = {name: index for index, name in enumerate(bus._order())}  # noqa: SLF001
    for topic in bus.topics():
        names = bus.subscribers_of(topic)
        assert [position[n] for n in names] == sorted(position[n] for n in names), topic


async def test_a_whole_batch_form_takes_every_round_in_one_call_after_them_and_falls_back_to_one_event_at_a_time() -> None:
    bus = InProcessBus()
    calls: list[str] = []

    async def plain(event: Event) -> None:
        calls.append(f"plain {event.id}")

    async def sink(event: Event) -> None:
        if event.id == 4:
            raise ValueError("event 4 is broken")
        calls.append(f"sink {event.id}")

    async def sink_batch(events: list[Event]) -> None:
        calls.append(f"sink batch {[e.id for e in events]}")
        if any(e.id == 4 for e in events):
            raise ValueError("event 4 is broken")

    async def heard(event: Event) -> None:
        calls.append(f"heard {event.id}")

    bus.subscribe("customer.created", plain, name="plain")
    for topic in ("customer.created", "conversation.opened"):
        bus.subscribe(topic, sink, name="sink", batch=sink_batch, whole_batch=True)
    bus.listen(heard)
    batch = [
        event(1, "customer.created", customer_id=7),
        event(2, "conversation.opened", conversation_id=70, customer_id=7),
        event(3, "customer.created", customer_id=8),
    ]
    assert await bus.deliver_many(batch) == {1: {}, 2: {}, 3: {}}
    # the rounds ([1, 3], [2]) with their listeners, then the sink once, in the batch's order
    assert calls == ["plain 1", "plain 3", "heard 1", "heard 3", "heard 2", "sink batch [1, 2, 3]"]

    calls.clear()
    failures = await bus.deliver_many([*batch[:2], event(4, "conversation.opened", conversation_id=80, customer_id=8)])
    assert failures == {1: {}, 2: {}, 4: {"sink": "ValueError: event 4 is broken"}}
    assert calls[-3:] == ["sink batch [1, 2, 4]", "sink 1", "sink 2"]  # then event by event: only 4 gets a retry


def test_only_a_batch_form_takes_the_whole_batch() -> None:
    async def sink(event: Event) -> None:
        pass

    with pytest.raises(ValueError, match="only a batch form"):
        InProcessBus().subscribe("customer.created", sink, name="sink", whole_batch=True)


async def test_a_batch_form_that_declines_has_its_events_run_one_at_a_time_with_no_failure() -> None:
    bus = InProcessBus()
    seen: list[str] = []

    async def one(event: Event) -> None:
        seen.append(f"one {event.id}")

    async def many(events: list[Event]) -> None:
        seen.append(f"many {[e.id for e in events]}")
        if any(e.payload["customer_id"] == 8 for e in events):
            raise EventByEvent

    bus.subscribe("customer.created", one, name="filtered", batch=many)
    assert await bus.deliver_many([event(1, "customer.created", customer_id=7)]) == {1: {}}
    assert seen == ["many [1]"]  # nothing for it to do: the per-event form never ran
    seen.clear()
    batch = [event(2, "customer.created", customer_id=7), event(3, "customer.created", customer_id=8)]
    assert await bus.deliver_many(batch) == {2: {}, 3: {}}
    assert seen == ["many [2, 3]", "one 2", "one 3"]
