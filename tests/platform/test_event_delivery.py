"""Per-subscriber event delivery: a failing subscriber is retried and parked on its own while
routing, queues and SLA keep working, and admins see and re-run what was parked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from okno.bootstrap import wire_subscribers
from okno.bus.catalog import InvalidEventPayload, UnknownTopic
from okno.bus.deps import SubscriberDeps
from okno.bus.events import Event
from okno.bus.outbox import record_event
from okno.config import Settings
from okno.context import AppContext
from okno.models import EventDelivery, OutboxEvent
from tests.factories import admin_headers, make_api_channel
from tests.service.helpers import open_conversation

MAX_ATTEMPTS = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbox_max_attempts": MAX_ATTEMPTS, "event_retry_base_seconds": 0.0})


async def deliveries(ctx: AppContext) -> list[EventDelivery]:
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(EventDelivery).order_by(EventDelivery.id)))


async def unpublished(ctx: AppContext) -> int:
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)))


async def test_a_subscriber_that_always_raises_is_parked_alone_while_routing_and_sla_keep_working(client, ctx) -> None:
    calls: list[int] = []

    async def always_fails(event: Event) -> None:
        calls.append(event.id)
        raise RuntimeError("the projection's table is gone")

    for topic in ("conversation.opened", "message.received"):
        ctx.bus.subscribe(topic, always_fails, name="tests.always_fails")
    headers = await admin_headers(ctx, client)
    policy = await client.post("/api/v1/sla/policies", json={"name": "24/7", "targets": {"normal": {"first_response": 30}}}, headers=headers)
    assert policy.status_code == 201, policy.text
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"sla_policy_id": policy.json()["id"]}, headers=headers)
    channel = await make_api_channel(client, headers, team_id=team["id"])

    first = await open_conversation(client, ctx, headers, channel=channel, text="Первый")
    second = await open_conversation(client, ctx, headers, channel=channel, text="Второй")

    for conversation in (first, second):  # routing put both in the team's queue, SLA started the clock
        assert conversation["team_id"] == team["id"]
        assert conversation["sla_due_at"] is not None
    rows = await deliveries(ctx)
    assert {r.subscriber for r in rows} == {"tests.always_fails"}  # nobody else needed a retry
    assert len(rows) == 4  # opened + received, twice
    assert all(r.status == "parked" and r.attempts == MAX_ATTEMPTS for r in rows)
    assert rows[0].last_error == "RuntimeError: the projection's table is gone"
    assert len(calls) == 4 * MAX_ATTEMPTS
    assert await unpublished(ctx) == 0  # later events were never held up


async def test_a_retried_subscriber_does_not_rerun_the_others(client, ctx) -> None:
    ran: dict[str, int] = {"steady": 0, "flaky": 0}

    async def steady(event: Event) -> None:
        ran["steady"] += 1

    async def flaky(event: Event) -> None:
        ran["flaky"] += 1
        if ran["flaky"] == 1:
            raise ConnectionError("first call fails")

    ctx.bus.subscribe("team.changed", steady, name="tests.steady")
    ctx.bus.subscribe("team.changed", flaky, name="tests.flaky")
    async with ctx.db.transaction() as session:
        await record_event(session, "team.changed", {"team_id": 1})
    await ctx.settle()

    assert ran == {"steady": 1, "flaky": 2}
    [row] = await deliveries(ctx)
    assert (row.subscriber, row.status, row.attempts, row.last_error) == ("tests.flaky", "done", 2, None)


async def test_parked_deliveries_are_listed_for_admins_and_can_be_run_again(client, ctx) -> None:
    healthy = False

    async def recovers_later(event: Event) -> None:
        if not healthy:
            raise ValueError("not yet")

    ctx.bus.subscribe("team.changed", recovers_later, name="tests.recovers_later")
    async with ctx.db.transaction() as session:
        await record_event(session, "team.changed", {"team_id": 42})
    await ctx.settle()
    headers = await admin_headers(ctx, client)

    listed = await client.get("/api/v1/events/deliveries", headers=headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["subscriber"], item["topic"], item["payload"], item["status"]) == ("tests.recovers_later", "team.changed", {"team_id": 42}, "parked")
    assert item["last_error"] == "ValueError: not yet" and item["attempts"] == MAX_ATTEMPTS

    healthy = True
    rerun = await client.post(f"/api/v1/events/deliveries/{item['id']}/retry", headers=headers)
    assert rerun.status_code == 200 and rerun.json()["status"] == "pending"
    await ctx.settle()
    assert (await client.get("/api/v1/events/deliveries", headers=headers)).json()["items"] == []
    [done] = (await client.get("/api/v1/events/deliveries", params={"status": "done"}, headers=headers)).json()["items"]
    assert done["id"] == item["id"] and done["attempts"] == 1

    again = await client.post(f"/api/v1/events/deliveries/{item['id']}/retry", headers=headers)
    assert again.status_code == 409 and "only a parked delivery" in again.json()["detail"]
    assert (await client.post("/api/v1/events/deliveries/999999/retry", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/events/deliveries", params={"status": "lost"}, headers=headers)).status_code == 422
    assert (await client.get("/api/v1/events/deliveries")).status_code == 401


async def test_unknown_topics_are_refused_when_wiring_and_recording(ctx) -> None:
    async def handler(deps: SubscriberDeps, event: Event) -> None:
        pass

    with pytest.raises(UnknownTopic, match="conversation.openned"):
        wire_subscribers(ctx.bus, SubscriberDeps(db=ctx.db, channels=ctx.channels, settings=ctx.settings), {"conversation.openned": [handler]})
    with pytest.raises(UnknownTopic, match="catalogue"):
        ctx.bus.subscribe("no.such_topic", lambda event: None)  # type: ignore[arg-type, return-value]
    async with ctx.db.transaction() as session:
        with pytest.raises(UnknownTopic, match="team.renamed"):
            await record_event(session, "team.renamed", {"team_id": 1})
        with pytest.raises(InvalidEventPayload, match="without team_id"):
            await record_event(session, "team.changed", {"team": 1})
    assert await unpublished(ctx) == 0


async def test_a_batch_form_takes_the_relay_batch_in_one_call_and_a_failure_falls_back_to_one_event_at_a_time(client, ctx) -> None:
    applied: list[int] = []
    batches: list[list[int]] = []

    async def one(event: Event) -> None:
        if event.payload["team_id"] == 2:
            raise ValueError("team 2 is broken")
        applied.append(event.payload["team_id"])

    async def many(events: list[Event]) -> None:
        batches.append([e.payload["team_id"] for e in events])
        for event in events:
            await one(event)

    order: list[str] = []

    async def plain(event: Event) -> None:
        order.append(f"plain {event.payload['team_id']}")

    ctx.bus.subscribe("team.changed", one, name="tests.batched", batch=many)
    ctx.bus.subscribe("team.changed", plain, name="tests.plain")
    async with ctx.db.transaction() as session:
        for team_id in (1, 3):
            await record_event(session, "team.changed", {"team_id": team_id})
    await ctx.settle()
    assert batches == [[1, 3]] and applied == [1, 3]  # one call for the batch, after the plain subscriber's
    assert order == ["plain 1", "plain 3"]
    assert await deliveries(ctx) == []

    batches.clear()
    applied.clear()
    async with ctx.db.transaction() as session:
        for team_id in (1, 2, 3):
            await record_event(session, "team.changed", {"team_id": team_id})
    await ctx.settle()
    # the batch failed (its work is the subscriber's to roll back); then event by event: only team 2 fails
    assert batches == [[1, 2, 3]] and applied == [1, 1, 3]
    rows = await deliveries(ctx)
    assert [(r.subscriber, r.status) for r in rows] == [("tests.batched", "parked")]
    assert order[2:] == ["plain 1", "plain 2", "plain 3"]  # the plain subscriber ran once per event
    assert await unpublished(ctx) == 0
