"""Automatic escalation by automation rules: on keywords in a customer's message, and on a
customer's Nth conversation about the same reason within a window of days."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.service.helpers import outbox_of, timeline_of

MSK = ZoneInfo("Europe/Moscow")


async def escalation_path(client, admin) -> tuple[int, int]:  # noqa: ANN001
    """First line → its escalation team (the supervisors); returns both ids."""
    supervisors = (await client.post("/api/v1/teams", json={"name": "Супервизоры"}, headers=admin)).json()["id"]
    first_line = (await client.post("/api/v1/teams", json={"name": "Первая линия"}, headers=admin)).json()["id"]
    changed = await client.patch(f"/api/v1/teams/{first_line}", json={"escalation_team_id": supervisors}, headers=admin)
    assert changed.status_code == 200, changed.text
    return first_line, supervisors


async def automation(client, admin, **body) -> dict:  # noqa: ANN001
    response = await client.post("/api/v1/automation/rules", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def write(client, ctx, channel: dict, phone: str, text: str) -> None:  # noqa: ANN001
    response = await post_inbound(client, channel, {"message_id": secrets.token_hex(6), "from": {"phone": phone}, "text": text})
    assert response.status_code == 200, response.text
    await ctx.settle()


async def latest_conversation(client, admin, phone: str) -> dict:  # noqa: ANN001
    [customer] = (await client.get("/api/v1/customers", params={"identity": f"phone:{phone}"}, headers=admin)).json()["items"]
    return (await client.get("/api/v1/conversations", params={"customer_id": customer["id"]}, headers=admin)).json()["items"][0]


async def test_a_message_with_a_complaint_keyword_escalates_once_up_the_teams_path(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    first_line, supervisors = await escalation_path(client, admin)
    rule = await automation(client, admin, name="Жалоба → супервизорам", event="message.received",
                            conditions=[{"field": "message.text", "op": "contains", "value": ["жалоба", "претензия"]}],
                            actions=[{"type": "escalate", "comment": "Клиент пишет жалобу"}])
    assert rule["actions"] == [{"type": "escalate", "comment": "Клиент пишет жалобу"}]
    channel = await make_api_channel(client, admin, team_id=first_line)
    phone = "+79160000001"

    await write(client, ctx, channel, phone, "Добрый день, где заказ?")
    calm = await latest_conversation(client, admin, phone)
    assert calm["team_id"] == first_line and await timeline_of(ctx, calm["id"], "conversation.escalated") == []

    await write(client, ctx, channel, phone, "Это ЖАЛОБА на курьера")
    await write(client, ctx, channel, phone, "И ещё одна жалоба")
    now = await latest_conversation(client, admin, phone)
    assert now["id"] == calm["id"] and now["team_id"] == supervisors and now["assignee_id"] is None
    [escalated] = await timeline_of(ctx, now["id"], "conversation.escalated")  # once, however often the word comes
    assert escalated.data["trigger"] == "automation" and escalated.data["via"] == f"automation:{rule['id']}"
    assert escalated.data["from"] == first_line and escalated.data["to"] == supervisors and escalated.data["comment"] == "Клиент пишет жалобу"
    assert [e["to"] for e in await outbox_of(ctx, "conversation.escalated")] == [supervisors]  # the operators' feed hears of it


async def test_a_customers_third_conversation_about_one_reason_within_30_days_escalates(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    first_line, supervisors = await escalation_path(client, admin)
    rule = await automation(client, admin, name="Третье обращение за 30 дней", event="conversation.status_changed",
                            conditions=[{"field": "contact_count_same_reason", "op": "gte", "value": 3, "window_days": 30},
                                        {"field": "conversation.status", "op": "eq", "value": "open"}],
                            actions=[{"type": "escalate", "comment": "Повторное обращение по той же причине"}])
    channel = await make_api_channel(client, admin, team_id=first_line)
    phone = "+79160000002"
    conversations = []
    for day in (datetime(2026, 10, 1, 12, 0, tzinfo=MSK), datetime(2026, 11, 5, 12, 0, tzinfo=MSK),
                datetime(2026, 11, 15, 12, 0, tzinfo=MSK), datetime(2026, 11, 20, 12, 0, tzinfo=MSK)):
        travel(day)
        await write(client, ctx, channel, phone, "Опять не привезли заказ")
        conversation = await latest_conversation(client, admin, phone)
        classified = await client.post(f"/api/v1/conversations/{conversation['id']}/status",
                                       json={"status": "open", "reason": "delivery"}, headers=admin)
        assert classified.status_code == 200, classified.text
        await ctx.settle()
        conversations.append(await latest_conversation(client, admin, phone))
        await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "resolved"}, headers=admin)
        await ctx.settle()

    assert len({c["id"] for c in conversations}) == 4
    # 15 Nov: 1 Oct is outside the 30 days, so it is the second contact; 20 Nov is the third
    assert [c["team_id"] for c in conversations] == [first_line, first_line, first_line, supervisors]
    [escalated] = await timeline_of(ctx, conversations[3]["id"], "conversation.escalated")
    assert escalated.data["via"] == f"automation:{rule['id']}" and escalated.data["comment"] == "Повторное обращение по той же причине"


async def test_rule_validation_names_what_is_wrong_with_a_contact_count_or_an_escalation(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    bad_window = await client.post("/api/v1/automation/rules", json={
        "name": "x", "event": "conversation.status_changed",
        "conditions": [{"field": "contact_count_same_reason", "op": "gte", "value": 3, "window_days": 0}],
        "actions": [{"type": "escalate", "comment": "повтор"}]}, headers=admin)
    assert bad_window.status_code == 422 and "window_days" in bad_window.json()["detail"]
    bad_count = await client.post("/api/v1/routing/rules", json={
        "name": "x", "conditions": [{"field": "contact_count_same_reason", "op": "gte", "value": "три"}],
        "actions": {"priority": 2}}, headers=admin)
    assert bad_count.status_code == 422 and "whole number of conversations" in bad_count.json()["detail"]
    no_team = await client.post("/api/v1/automation/rules", json={
        "name": "x", "event": "message.received", "actions": [{"type": "escalate", "team_id": 999, "comment": "повтор"}]}, headers=admin)
    assert no_team.status_code == 422 and "escalation path" in no_team.json()["detail"]
