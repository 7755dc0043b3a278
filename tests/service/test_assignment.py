"""Assignment over the API: strategies, capacity, presence, VIP → experienced, the queue moving
the moment an operator frees up."""

from __future__ import annotations

from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound
from tests.service.helpers import open_conversation, timeline_of


async def staffed_team(client, ctx, admin, *, strategy: str, operators: int, capacity: int = 5, experienced=(), online=True) -> dict:  # noqa: ANN001
    team = (await client.post("/api/v1/teams", json={"name": f"{strategy}-team"}, headers=admin)).json()
    configured = await client.patch(f"/api/v1/teams/{team['id']}", json={"assignment_strategy": strategy, "sticky": False}, headers=admin)
    assert configured.status_code == 200, configured.text
    people = []
    for i in range(operators):
        op = await make_operator(ctx, name=f"op{i}")
        op["headers"] = await login(client, email=op["email"])
        body = {"capacity": {"chat": capacity}, "experienced": i in experienced}
        assert (await client.patch(f"/api/v1/operators/{op['id']}", json=body, headers=admin)).status_code == 200
        assert (await client.post(f"/api/v1/teams/{team['id']}/members", json={"operator_id": op["id"]}, headers=admin)).status_code == 200
        if online:
            await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=op["headers"])
        people.append(op)
    await ctx.settle()
    channel = await make_api_channel(client, admin, team_id=team["id"])
    return {"team": team, "operators": people, "channel": channel}


async def assignee(client, headers, conversation_id: int) -> int | None:  # noqa: ANN001
    return (await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()["assignee_id"]


async def test_least_loaded_respects_capacity_and_a_resolution_hands_out_the_oldest_waiting(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="least_loaded", operators=2, capacity=2)
    a, b = (op["id"] for op in setup["operators"])
    conversations = [await open_conversation(client, ctx, admin, channel=setup["channel"]) for _ in range(6)]
    owners = [await assignee(client, admin, c["id"]) for c in conversations]
    assert owners[:4] == [a, b, a, b] and owners[4:] == [None, None]  # both full: two wait

    urgent = conversations[5]["id"]
    await client.post(f"/api/v1/conversations/{urgent}/priority", json={"priority": 3}, headers=admin)
    await ctx.settle()
    resolved = await client.post(f"/api/v1/conversations/{conversations[0]['id']}/status", json={"status": "resolved"}, headers=setup["operators"][0]["headers"])
    assert resolved.status_code == 200
    await ctx.settle()
    assert await assignee(client, admin, urgent) == a  # the highest priority first, at once
    await client.post(f"/api/v1/conversations/{conversations[1]['id']}/status", json={"status": "pending"}, headers=admin)
    await ctx.settle()
    assert await assignee(client, admin, conversations[4]["id"]) == b  # then the oldest one
    [auto] = [e for e in await timeline_of(ctx, urgent, "conversation.assigned")]
    assert auto.actor_id is None and auto.data["strategy"] == "next_in_queue"


async def test_round_robin_takes_turns(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="round_robin", operators=3)
    ids = [op["id"] for op in setup["operators"]]
    owners = [await assignee(client, admin, (await open_conversation(client, ctx, admin, channel=setup["channel"]))["id"]) for _ in range(6)]
    assert owners == ids + ids


async def test_only_online_operators_and_going_online_takes_the_queue(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="least_loaded", operators=1, online=False)
    waiting = await open_conversation(client, ctx, admin, channel=setup["channel"])
    assert await assignee(client, admin, waiting["id"]) is None
    [op] = setup["operators"]
    await client.post("/api/v1/operators/me/presence", json={"status": "away"}, headers=op["headers"])
    await ctx.settle()
    assert await assignee(client, admin, waiting["id"]) is None
    await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=op["headers"])
    await ctx.settle()
    assert await assignee(client, admin, waiting["id"]) == op["id"]


async def test_manual_teams_are_never_auto_assigned(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="manual", operators=1)
    conversation = await open_conversation(client, ctx, admin, channel=setup["channel"])
    assert await assignee(client, admin, conversation["id"]) is None


async def test_vip_goes_to_an_experienced_operator_or_waits_for_one(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="least_loaded", operators=2, experienced=(1,))
    novice, expert = setup["operators"]
    first = await open_conversation(client, ctx, admin, channel=setup["channel"])
    await client.patch(f"/api/v1/customers/{first['customer_id']}/attributes", json={"vip_tier": "gold"}, headers=admin)
    await client.post(f"/api/v1/conversations/{first['id']}/status", json={"status": "resolved"}, headers=admin)
    await client.post("/api/v1/operators/me/presence", json={"status": "offline"}, headers=expert["headers"])
    await ctx.settle()

    customer = (await client.get(f"/api/v1/customers/{first['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")
    await post_inbound(client, setup["channel"], {"message_id": "vip-2", "from": {"phone": phone}, "text": "Снова я"})
    await ctx.settle()
    mine = (await client.get("/api/v1/conversations", params={"customer_id": first["customer_id"]}, headers=admin)).json()["items"]
    assert mine[0]["status"] == "open" and mine[0]["assignee_id"] is None  # the novice is free, but not for a VIP
    await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=expert["headers"])
    await ctx.settle()
    assert await assignee(client, admin, mine[0]["id"]) == expert["id"]


async def test_sticky_prefers_the_customers_last_operator(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="round_robin", operators=3)
    await client.patch(f"/api/v1/teams/{setup['team']['id']}", json={"sticky": True}, headers=admin)
    first = await open_conversation(client, ctx, admin, channel=setup["channel"])
    owner = await assignee(client, admin, first["id"])
    await client.post(f"/api/v1/conversations/{first['id']}/status", json={"status": "closed"}, headers=admin)
    await ctx.settle()
    customer = (await client.get(f"/api/v1/customers/{first['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")
    await post_inbound(client, setup["channel"], {"message_id": "sticky-2", "from": {"phone": phone}, "text": "Ещё вопрос"})
    await ctx.settle()
    latest = (await client.get("/api/v1/conversations", params={"customer_id": first["customer_id"]}, headers=admin)).json()["items"][0]
    assert latest["id"] != first["id"] and latest["assignee_id"] == owner
    [entry] = await timeline_of(ctx, latest["id"], "conversation.assigned")
    assert entry.data["strategy"] == "sticky"


async def test_a_vip_message_is_assigned_to_the_experienced_operator_on_arrival(client, ctx) -> None:
    """The routing decision, not its speed (bench/routing.py prints the time from an accepted VIP
    message to its assignment): three juniors are online and free, yet the VIP's new conversation
    goes to the experienced operator in the same pass of ingest → outbox → subscribers that
    opened it, with nothing else (no operator freeing up, no presence change) needed."""
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="least_loaded", operators=4, experienced=(3,))
    *juniors, expert = setup["operators"]
    known = await open_conversation(client, ctx, admin, channel=setup["channel"])
    assert await assignee(client, admin, known["id"]) == juniors[0]["id"]  # the juniors are online with room
    await client.patch(f"/api/v1/customers/{known['customer_id']}/attributes", json={"vip": True}, headers=admin)
    await client.post(f"/api/v1/conversations/{known['id']}/status", json={"status": "closed"}, headers=admin)
    await ctx.settle()
    customer = (await client.get(f"/api/v1/customers/{known['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")

    accepted = await post_inbound(client, setup["channel"], {"message_id": "vip-monday", "from": {"phone": phone}, "text": "Срочно!"})
    assert accepted.status_code == 200, accepted.text
    await ctx.settle()  # ingest, the relay and its subscribers until every queue is empty

    [latest, _] = (await client.get("/api/v1/conversations", params={"customer_id": known["customer_id"]}, headers=admin)).json()["items"]
    assert latest["id"] != known["id"] and latest["assignee_id"] == expert["id"]
    [entry] = await timeline_of(ctx, latest["id"], "conversation.assigned")
    assert entry.actor_id is None and entry.data["strategy"] == "least_loaded"  # on arrival, not from the queue later
