"""Timers beyond SLA: auto-close of conversations left waiting for the customer; an automation
rule that escalates on an SLA warning."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.service.helpers import open_conversation, timeline_of

MSK = ZoneInfo("Europe/Moscow")


async def test_a_pending_conversation_without_reply_is_closed_once_and_a_reply_stops_it(client, ctx, travel, monkeypatch) -> None:
    monkeypatch.setattr(ctx.settings, "pending_auto_close_hours", 24.0)
    admin = await admin_headers(ctx, client)
    channel = await make_api_channel(client, admin)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    silent = await open_conversation(client, ctx, admin, channel=channel)
    answered = await open_conversation(client, ctx, admin, channel=channel)
    for conversation in (silent, answered):
        await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "pending"}, headers=admin)
    await ctx.settle()

    travel(datetime(2026, 12, 1, 9, 0, tzinfo=MSK))  # the second customer answers within the day
    customer = (await client.get(f"/api/v1/customers/{answered['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")
    await post_inbound(client, channel, {"message_id": "back-1", "from": {"phone": phone}, "text": "Да, всё верно"})
    await ctx.settle()

    travel(datetime(2026, 12, 1, 10, 1, tzinfo=MSK))
    await ctx.settle()
    assert (await client.get(f"/api/v1/conversations/{silent['id']}", headers=admin)).json()["status"] == "closed"
    assert (await client.get(f"/api/v1/conversations/{answered['id']}", headers=admin)).json()["status"] == "open"
    closing = [e for e in await timeline_of(ctx, silent["id"], "conversation.status_changed") if e.data["to"] == "closed"]
    assert len(closing) == 1 and closing[0].data["via"] == "timer:auto_close" and closing[0].actor_id is None


async def test_an_automation_escalates_on_an_sla_warning(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    seniors = (await client.post("/api/v1/teams", json={"name": "Вторая линия"}, headers=admin)).json()["id"]
    first_line = (await client.post("/api/v1/teams", json={"name": "Первая линия"}, headers=admin)).json()["id"]
    policy = (await client.post("/api/v1/sla/policies", json={"name": "1 ч", "targets": {"normal": {"first_response": 60}}, "warning_minutes": 15}, headers=admin)).json()
    await client.patch(f"/api/v1/teams/{first_line}", json={"sla_policy_id": policy["id"]}, headers=admin)
    rule = await client.post("/api/v1/automation/rules", json={
        "name": "Предупреждение SLA → вторая линия", "event": "sla.warning",
        "actions": [{"type": "escalate", "team_id": seniors, "comment": "Через 15 минут истекает срок первого ответа"}]}, headers=admin)
    assert rule.status_code == 201, rule.text
    channel = await make_api_channel(client, admin, team_id=first_line)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    conversation = await open_conversation(client, ctx, admin, channel=channel)
    travel(datetime(2026, 11, 30, 10, 46, tzinfo=MSK))
    await ctx.settle()
    now = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()
    assert now["team_id"] == seniors
    [escalated] = await timeline_of(ctx, conversation["id"], "conversation.escalated")
    assert escalated.data["trigger"] == "automation" and escalated.data["via"] == f"automation:{rule.json()['id']}"
