"""Automatic escalation: an SLA breach sends the conversation to the supervisor team."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.factories import admin_headers, login, make_api_channel, make_operator
from tests.service.helpers import open_conversation, outbox_of, timeline_of

MSK = ZoneInfo("Europe/Moscow")


async def test_an_sla_breach_escalates_to_the_supervisor_team_and_is_on_the_timeline(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    supervisors = (await client.post("/api/v1/teams", json={"name": "Супервизоры"}, headers=admin)).json()["id"]
    support = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=admin)).json()["id"]
    policy = (await client.post("/api/v1/sla/policies", json={"name": "Быстро", "targets": {"normal": {"first_response": 30}}}, headers=admin)).json()
    await client.patch(f"/api/v1/teams/{support}", json={"escalation_team_id": supervisors, "sla_policy_id": policy["id"], "assignment_strategy": "least_loaded"}, headers=admin)
    await client.patch(f"/api/v1/teams/{supervisors}", json={"assignment_strategy": "least_loaded"}, headers=admin)
    agent, boss = await make_operator(ctx), await make_operator(ctx)
    for person, team_id in ((agent, support), (boss, supervisors)):
        await client.post(f"/api/v1/teams/{team_id}/members", json={"operator_id": person["id"]}, headers=admin)
        await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=await login(client, email=person["email"]))
    channel = await make_api_channel(client, admin, team_id=support)

    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    conversation = await open_conversation(client, ctx, admin, channel=channel)
    assert conversation["team_id"] == support and conversation["assignee_id"] == agent["id"]

    travel(datetime(2026, 11, 30, 10, 31, tzinfo=MSK))
    await ctx.settle()
    now = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()
    assert now["team_id"] == supervisors and now["assignee_id"] == boss["id"]  # escalated, and a supervisor took it

    [breach] = await timeline_of(ctx, conversation["id"], "sla.breached")
    [escalated] = await timeline_of(ctx, conversation["id"], "conversation.escalated")
    assert escalated.id > breach.id and escalated.actor_id is None
    assert escalated.data["trigger"] == "sla_breach" and escalated.data["from"] == support and escalated.data["to"] == supervisors
    assert "first response" in escalated.data["comment"] and escalated.data["previous_assignee"] == agent["id"]
    [notice] = await outbox_of(ctx, "conversation.escalated")
    assert notice["team_id"] == supervisors and notice["customer_id"] == conversation["customer_id"]

    # the promise stays: the breached target keeps its policy, and answering it records a miss
    sla = (await client.get(f"/api/v1/conversations/{conversation['id']}/sla", headers=admin)).json()["items"]
    first = next(t for t in sla if t["metric"] == "first_response")
    assert first["policy_id"] == policy["id"] and first["state"] == "running" and first["breached_at"] is not None
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Разбираюсь"}, headers=await login(client, email=boss["email"]))
    await ctx.settle()
    sla = (await client.get(f"/api/v1/conversations/{conversation['id']}/sla", headers=admin)).json()["items"]
    assert next(t for t in sla if t["metric"] == "first_response")["state"] == "missed"
    assert len(await timeline_of(ctx, conversation["id"], "conversation.escalated")) == 1


async def test_no_escalation_path_means_no_move(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    support = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=admin)).json()["id"]
    await client.post("/api/v1/sla/policies", json={"name": "Все", "targets": {"normal": {"first_response": 10}}, "is_default": True}, headers=admin)
    channel = await make_api_channel(client, admin, team_id=support)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    conversation = await open_conversation(client, ctx, admin, channel=channel)
    travel(datetime(2026, 11, 30, 10, 15, tzinfo=MSK))
    await ctx.settle()
    assert len(await timeline_of(ctx, conversation["id"], "sla.breached")) == 1
    assert await timeline_of(ctx, conversation["id"], "conversation.escalated") == []
    assert (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()["team_id"] == support
