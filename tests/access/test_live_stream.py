"""The operators' live stream carries only events of conversations (and customers) the operator
may see, and a team membership change applies to the next event."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import delete

from okno.access import Scope
from okno.models import team_members
from okno.realtime.operators import VisibleEvents
from tests.access.world import World, make_world
from tests.conftest import LoopbackServer


def _scope(world: World, who: str) -> Scope:
    return Scope(operator_id=world.operators[who], role=who.split("_")[0], operators_see_unteamed=True)


def _event(event_id: int, **fields: int) -> dict:
    return {"id": event_id, "topic": "message.received", **fields}


async def test_an_operator_is_sent_only_his_teams_events(ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    mine, theirs, unteamed = await world.bundle("A"), await world.bundle("B"), await world.bundle(None)
    events = [
        _event(1, conversation_id=theirs.conversation_id, customer_id=theirs.customer_id),
        _event(2, conversation_id=mine.conversation_id, customer_id=mine.customer_id),
        _event(3, customer_id=theirs.customer_id),  # about team B's customer, no conversation
        _event(4, customer_id=mine.customer_id),
        _event(5, conversation_id=unteamed.conversation_id, customer_id=unteamed.customer_id),
        {"presence": True, "conversation_id": theirs.conversation_id, "operator_id": 1, "name": "x", "typing": True},
        {"id": 6, "topic": "channel.health_changed", "channel_id": 1, "status": "ok"},  # no customer in it
    ]
    seen = await VisibleEvents(ctx.db, _scope(world, "operator_a")).only_visible(events)
    assert [e.get("id") for e in seen] == [2, 4, 5, 6]
    assert [e.get("id") for e in await VisibleEvents(ctx.db, _scope(world, "admin")).only_visible(events)] == [1, 2, 3, 4, 5, None, 6]
    strict = Scope(operator_id=world.operators["operator_a"], role="operator", operators_see_unteamed=False)
    assert [e.get("id") for e in await VisibleEvents(ctx.db, strict).only_visible(events)] == [2, 4, 6]

    # joining team B shows its events from the next one on; leaving hides them again
    visible = VisibleEvents(ctx.db, _scope(world, "operator_a"))
    await world.join("operator_a", "B")
    assert [e.get("id") for e in await visible.only_visible(events[:1])] == [1]
    async with ctx.db.transaction() as session:
        await session.execute(delete(team_members).where(team_members.c.operator_id == world.operators["operator_a"], team_members.c.team_id == world.team_b))
    assert await visible.only_visible(events[:1]) == []


async def test_a_role_change_and_a_deactivation_reach_an_open_stream(ctx, client) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from okno.models import Operator

    world = await make_world(ctx, client)
    theirs = await world.bundle("B")
    visible = VisibleEvents(ctx.db, _scope(world, "operator_a"))
    event = [_event(1, conversation_id=theirs.conversation_id)]
    assert await visible.only_visible(event) == []
    async with ctx.db.transaction() as session:
        await session.execute(update(Operator).where(Operator.id == world.operators["operator_a"]).values(role="admin"))
    assert await visible.refresh() is True and await visible.only_visible(event) == event
    async with ctx.db.transaction() as session:
        await session.execute(update(Operator).where(Operator.id == world.operators["operator_a"]).values(is_active=False))
    assert await visible.refresh() is False


async def _changes(browser: httpx.AsyncClient, token: str, until_conversation: int, *, after: int = 0) -> list[dict]:
    """The stream's change events up to the first one about ``until_conversation``."""
    got: list[dict] = []
    headers = {"cookie": f"okno_session={token}", **({"Last-Event-ID": str(after)} if after else {})}
    async with browser.stream("GET", "/ui/stream", headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                got.append(event)
                if event.get("conversation_id") == until_conversation and not event.get("presence"):
                    return got
    return got


async def test_operator_a_sees_none_of_team_b_on_the_live_stream(app, ctx, client) -> None:  # noqa: ANN001
    world = await make_world(ctx, client)
    mine, theirs, shared = await world.bundle("A"), await world.bundle("B"), await world.bundle(None)
    admin = world.bearer("admin")

    async def change_priority(conversation_id: int, priority: int) -> None:
        response = await client.post(f"/api/v1/conversations/{conversation_id}/priority", json={"priority": priority}, headers=admin)
        assert response.status_code == 200, response.text
        await ctx.settle()

    async with LoopbackServer(app) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as browser:
        # both stop at the first event about the unteamed conversation, which both may see
        listening_a = asyncio.create_task(_changes(browser, world.tokens["operator_a"], shared.conversation_id))
        listening_b = asyncio.create_task(_changes(browser, world.tokens["operator_b"], shared.conversation_id))
        for _ in range(100):
            if ctx.operator_feed.listeners == 2:
                break
            await asyncio.sleep(0.05)
        assert ctx.operator_feed.listeners == 2
        await change_priority(theirs.conversation_id, 2)
        await change_priority(theirs.conversation_id, 3)
        typing = await client.post(f"/ui/conversations/{theirs.conversation_id}/presence", json={"typing": True}, headers=world.bearer("operator_b"))
        assert typing.status_code == 204
        await change_priority(mine.conversation_id, 3)
        await change_priority(shared.conversation_id, 3)
        seen_by_a = await asyncio.wait_for(listening_a, timeout=10)
        seen_by_b = await asyncio.wait_for(listening_b, timeout=10)
        # a reconnecting browser's replay is filtered the same way
        replayed = await asyncio.wait_for(_changes(browser, world.tokens["operator_a"], shared.conversation_id, after=1), timeout=10)

    assert [e["conversation_id"] for e in seen_by_a] == [mine.conversation_id, shared.conversation_id]
    assert {e["conversation_id"] for e in seen_by_b} == {theirs.conversation_id, shared.conversation_id}
    assert any(e.get("presence") for e in seen_by_b) and len(seen_by_b) == 4  # two changes, the typing, the shared one
    assert theirs.conversation_id not in {e.get("conversation_id") for e in replayed} and mine.conversation_id in {e.get("conversation_id") for e in replayed}
