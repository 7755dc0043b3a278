"""The bus on NATS JetStream, driven against a real nats-server (skipped without one): each
committed event is published once (a re-publish after a relay crash is de-duplicated by its
outbox id), each subscriber group handles it once however many processes consume, a failing
subscriber is retried with backoff and parked (dead-letter subject + a parked delivery row an
admin runs again), and the real subscribers stay idempotent when an event comes twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import orjson
import pytest
from sqlalchemy import select, update

from okno.bus.deliveries import retry_delivery
from okno.bus.events import Event
from okno.bus.inprocess import InProcessBus
from okno.bus.nats import NatsBus
from okno.bus.outbox import record_event
from okno.bus.relay import OutboxRelay, RetryBackoff
from okno.config import Settings
from okno.context import AppContext
from okno.models import EventDelivery, OutboxEvent
from tests.factories import admin_headers, make_api_channel
from tests.scaleout.natsfix import drop_streams, need_nats, poll, unique_prefix
from tests.service.helpers import open_conversation, outbox_of


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    url = need_nats()
    name = unique_prefix()
    yield name
    await drop_streams(url, name)


async def _buses(ctx: AppContext, bus: InProcessBus, prefix: str, n: int, **kw) -> list[NatsBus]:
    buses = [NatsBus(need_nats(), bus, ctx.db, prefix=prefix, **kw) for _ in range(n)]
    for b in buses:
        await b.connect()
        b.start_consumers()
    return buses


async def _record(ctx: AppContext, count: int) -> None:
    async with ctx.db.transaction() as session:
        for team_id in range(1, count + 1):
            await record_event(session, "team.changed", {"team_id": team_id})


async def _stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


async def test_events_are_published_once_and_each_group_handles_them_once_across_processes(app, ctx: AppContext, prefix: str) -> None:
    handled: dict[str, list[int]] = {"a": [], "b": []}
    bus = InProcessBus()

    def handler(key: str):
        async def run(event: Event) -> None:
            handled[key].append(event.payload["team_id"])
            await asyncio.sleep(0.001)

        return run

    bus.subscribe("team.changed", handler("a"), name="tests.a")
    bus.subscribe("team.changed", handler("b"), name="tests.b")
    first, second = await _buses(ctx, bus, prefix, 2)  # two worker processes in one subscriber group each
    try:
        relay = OutboxRelay(ctx.db, first)
        await _record(ctx, 40)
        assert await relay.drain_once() == 40
        # the relay died after publishing and before its settle: the rows are published again
        async with ctx.db.transaction() as session:
            await session.execute(update(OutboxEvent).values(published_at=None, next_attempt_at=None))
        assert await relay.drain_once() == 40
        await poll(lambda: asyncio.sleep(0, handled), lambda h: len(h["a"]) >= 40 and len(h["b"]) >= 40)
        await asyncio.sleep(0.5)  # room for a duplicate to show up
        assert sorted(handled["a"]) == list(range(1, 41))
        assert sorted(handled["b"]) == list(range(1, 41))
        assert await _stream_messages(need_nats(), first.stream) == 40  # the re-publish was de-duplicated
        assert set((await first.consumer_pending()).values()) == {0}
    finally:
        await first.close()
        await second.close()


async def test_a_failing_subscriber_is_retried_with_backoff_then_dead_lettered_and_parked(app, ctx: AppContext, prefix: str) -> None:
    calls = {"steady": 0, "broken": 0}
    healed = asyncio.Event()
    bus = InProcessBus()

    async def steady(event: Event) -> None:
        calls["steady"] += 1

    async def broken(event: Event) -> None:
        calls["broken"] += 1
        if not healed.is_set():
            raise RuntimeError("the projection's table is gone")

    bus.subscribe("team.changed", steady, name="tests.steady")
    bus.subscribe("team.changed", broken, name="tests.broken")
    [nb] = await _buses(ctx, bus, prefix, 1, max_attempts=3, backoff=RetryBackoff(base_seconds=0.05))
    try:
        relay = OutboxRelay(ctx.db, nb, max_attempts=3)
        await _record(ctx, 1)
        await relay.drain_once()

        async def parked() -> list[EventDelivery]:
            async with ctx.db.reading() as session:
                return list(await session.scalars(select(EventDelivery)))

        rows = await poll(parked, lambda r: len(r) == 1)
        assert [(r.subscriber, r.status, r.attempts) for r in rows] == [("tests.broken", "parked", 3)]
        assert rows[0].last_error == "RuntimeError: the projection's table is gone"
        assert calls == {"steady": 1, "broken": 3}  # only the failing one was retried
        assert await _stream_messages(need_nats(), nb.dead_stream) == 1
        nc = await nats.connect(need_nats())
        try:
            dead = await nc.jetstream().get_last_msg(nb.dead_stream, f"{prefix}.dead.team.changed")
            assert orjson.loads(dead.data)["subscriber"] == "tests.broken"
        finally:
            await nc.close()

        healed.set()  # an admin fixed the cause and runs the parked delivery again
        async with ctx.db.transaction() as session:
            await retry_delivery(session, rows[0].id)
        relay.expect_retries()
        await relay.drain_once()
        rows = await parked()
        assert rows[0].status == "done" and calls == {"steady": 1, "broken": 4}
    finally:
        await nb.close()


@pytest.fixture
def settings(settings: Settings, prefix: str) -> Settings:
    return settings.model_copy(update={"bus_url": need_nats(), "bus_prefix": prefix})


async def test_real_subscribers_stay_idempotent_when_an_event_arrives_twice(client, ctx: AppContext) -> None:
    assert ctx.nats is not None
    ctx.nats.start_consumers()
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    channel = await make_api_channel(client, headers, team_id=team["id"])
    conversation = await open_conversation(client, ctx, headers, channel=channel)  # settle: the relay published

    async def routed() -> list[dict]:
        return await outbox_of(ctx, "conversation.routed")

    assert len(await poll(routed, lambda r: len(r) == 1)) == 1
    # the same event again (a redelivery after the de-duplication window, a consumer reset)
    async with ctx.db.reading() as session:
        opened = (await session.execute(select(OutboxEvent).where(OutboxEvent.topic == "conversation.opened"))).scalar_one()
    data = orjson.dumps({"id": opened.id, "topic": opened.topic, "payload": opened.payload, "created_at": opened.created_at.isoformat()})
    await ctx.nats.js.publish(ctx.nats.subject(opened.topic), data, headers={"Nats-Msg-Id": "again"})
    await poll(lambda: ctx.nats.consumer_pending(), lambda p: not any(p.values()))
    await asyncio.sleep(0.3)
    assert len(await routed()) == 1  # routed once
    shown = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
    assert shown["team_id"] == team["id"]


async def test_live_pushes_cross_processes_through_the_fanout(app, ctx: AppContext, prefix: str) -> None:
    """A widget visitor's socket and an operator's feed on "process" A hear what "process" B published."""
    from okno.channels.adapters.widget.streams import VisitorHub
    from okno.realtime.operators import OperatorFeed

    a, b = await _buses(ctx, InProcessBus(), prefix, 2)
    try:
        hub_a, hub_b = VisitorHub(), VisitorHub()
        hub_a.attach(a.fanout)
        hub_b.attach(b.fanout)
        feed_a, feed_b = OperatorFeed(), OperatorFeed()
        feed_a.attach(a.fanout)
        feed_b.attach(b.fanout)
        socket = hub_a.subscribe((7, "visitor-1"))
        other_visitor = hub_a.subscribe((7, "visitor-2"))
        browser = feed_a.subscribe()
        await hub_b.publish((7, "visitor-1"), {"type": "message", "seq": 3, "from": "agent", "text": "Чем помочь?"})
        await feed_b.publish_presence(conversation_id=5, operator_id=2, name="Анна", typing=True)
        assert (await asyncio.wait_for(socket.get(), 5))["text"] == "Чем помочь?"
        assert (await asyncio.wait_for(browser.get(), 5))["name"] == "Анна"
        assert other_visitor.empty()
    finally:
        await a.close()
        await b.close()


async def test_closing_lets_the_handler_in_flight_finish_and_ack(app, ctx: AppContext, prefix: str) -> None:
    started, finished = asyncio.Event(), []
    bus = InProcessBus()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.8)
        finished.append(event.id)

    bus.subscribe("team.changed", slow, name="tests.slow")
    [nb] = await _buses(ctx, bus, prefix, 1)
    watcher = NatsBus(need_nats(), bus, ctx.db, prefix=prefix)
    await watcher.connect()
    try:
        await _record(ctx, 1)
        await OutboxRelay(ctx.db, nb).drain_once()
        await asyncio.wait_for(started.wait(), 10)
        await nb.close()  # SIGTERM in the middle of the handler
        assert len(finished) == 1  # it ran to the end
        assert set((await watcher.consumer_pending()).values()) == {0}  # and its ack went out: nobody runs it again
    finally:
        await nb.close()
        await watcher.close()


async def test_events_wait_in_the_outbox_while_nats_is_away_and_are_never_parked_for_it(app, ctx: AppContext) -> None:
    from tests.conftest import free_port
    from tests.scaleout.natsfix import own_nats

    bus = InProcessBus()
    handled: list[int] = []

    async def note(event: Event) -> None:
        handled.append(event.payload["team_id"])

    bus.subscribe("team.changed", note, name="tests.note")
    async with own_nats(free_port()) as server:
        nb = NatsBus(server.url, bus, ctx.db, prefix="away", max_attempts=2, backoff=RetryBackoff(base_seconds=0.0))
        await nb.connect()
        nb.start_consumers()
        relay = OutboxRelay(ctx.db, nb, max_attempts=2, backoff=RetryBackoff(base_seconds=0.0))
        try:
            server.stop()
            await _record(ctx, 1)
            for _ in range(3):  # more failed attempts than max_attempts
                await relay.drain_once()
            async with ctx.db.reading() as session:
                row = (await session.execute(select(OutboxEvent))).scalar_one()
            assert row.published_at is None and row.attempts == 3 and not row.last_error.startswith("parked")
            server.start()
            await server.ready()
            await poll(relay.drain_once, lambda n: n == 1, timeout=20, every=0.3)
            assert await poll(lambda: asyncio.sleep(0, handled), lambda h: h == [1], timeout=15) == [1]
        finally:
            await nb.close()
