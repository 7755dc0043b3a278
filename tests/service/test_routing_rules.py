"""Routing rules as data, over the API: conditions → team, priority, tags, SLA policy, skills."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from okno.bus.events import Event
from okno.models import OutboxEvent
from tests.factories import admin_headers, login, make_api_channel, make_operator
from tests.service.helpers import open_conversation, timeline_of

MSK = ZoneInfo("Europe/Moscow")


async def team(client, admin, name: str, **config) -> int:  # noqa: ANN001
    team_id = (await client.post("/api/v1/teams", json={"name": name}, headers=admin)).json()["id"]
    if config:
        assert (await client.patch(f"/api/v1/teams/{team_id}", json=config, headers=admin)).status_code == 200
    return team_id


async def rule(client, admin, **body) -> dict:  # noqa: ANN001
    response = await client.post("/api/v1/routing/rules", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_keyword_and_regex_rules_set_team_priority_tags_and_skills(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    returns = await team(client, admin, "Возвраты")
    fallback = await team(client, admin, "Первая линия")
    await rule(client, admin, name="Возвраты", conditions=[{"field": "message.text", "op": "contains", "value": ["возврат", "вернуть"]}],
               actions={"team_id": returns, "priority": 2, "tags": ["Возврат"], "skills": ["returns"]})
    await rule(client, admin, name="Номер заказа", conditions=[{"field": "message.text", "op": "matches", "value": r"заказ\s*№?\s*\d{6}"}],
               actions={"tags": ["order"]}, stop=False, position=1)
    channel = await make_api_channel(client, admin, team_id=fallback)

    matched = await open_conversation(client, ctx, admin, channel=channel, text="Хочу ВЕРНУТЬ заказ №123456")
    assert (matched["team_id"], matched["priority"], matched["tags"]) == (returns, 2, ["order", "возврат"])
    [entry] = await timeline_of(ctx, matched["id"], "conversation.routed")
    assert entry.data["rules"] == ["Номер заказа", "Возвраты"] and entry.data["skills"] == ["returns"]

    plain = await open_conversation(client, ctx, admin, channel=channel, text="Здравствуйте")
    assert (plain["team_id"], plain["priority"], plain["tags"]) == (fallback, 1, [])
    [entry] = await timeline_of(ctx, plain["id"], "conversation.routed")
    assert entry.data["rules"] == ["channel team"]


async def test_customer_attributes_and_time_of_day(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    night = await team(client, admin, "Ночная смена")
    policy = (await client.post("/api/v1/sla/policies", json={"name": "VIP", "targets": {"urgent": {"first_response": 5}}}, headers=admin)).json()
    await rule(client, admin, name="VIP", conditions=[{"field": "customer.vip_tier", "op": "in", "value": ["gold", "platinum"]}],
               actions={"priority": 3, "sla_policy_id": policy["id"]}, stop=False,
               events=["conversation.opened", "customer.attributes_changed"])
    await rule(client, admin, name="Ночь", conditions=[{"field": "time", "op": "between", "value": ["20:00", "08:00"], "timezone": "Europe/Moscow"}],
               actions={"team_id": night})
    channel = await make_api_channel(client, admin)

    travel(datetime(2026, 11, 30, 23, 15, tzinfo=MSK))
    late = await open_conversation(client, ctx, admin, channel=channel)
    assert late["team_id"] == night and late["priority"] == 1
    await client.patch(f"/api/v1/customers/{late['customer_id']}/attributes", json={"vip_tier": "gold"}, headers=admin)
    await ctx.settle()
    now = (await client.get(f"/api/v1/conversations/{late['id']}", headers=admin)).json()
    assert now["priority"] == 3 and now["sla_due_at"] is not None  # re-routed on the attribute change, 5-minute target
    sla = (await client.get(f"/api/v1/conversations/{late['id']}/sla", headers=admin)).json()["items"]
    assert [(t["metric"], t["target_seconds"], t["policy_id"]) for t in sla if t["state"] == "running"] == [("first_response", 300, policy["id"])]

    travel(datetime(2026, 12, 1, 11, 0, tzinfo=MSK))
    day = await open_conversation(client, ctx, admin, channel=channel)
    assert day["team_id"] is None


async def test_skills_strategy_sends_a_conversation_to_the_operator_who_has_the_skill(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    support = await team(client, admin, "Поддержка", assignment_strategy="skills", sticky=False)
    people = []
    for skills in (["english"], ["returns", "english"]):
        op = await make_operator(ctx)
        headers = await login(client, email=op["email"])
        await client.patch(f"/api/v1/operators/{op['id']}", json={"skills": skills}, headers=admin)
        await client.post(f"/api/v1/teams/{support}/members", json={"operator_id": op["id"]}, headers=admin)
        await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=headers)
        people.append(op["id"])
    await rule(client, admin, name="Возвраты", conditions=[{"field": "message.text", "op": "contains", "value": "возврат"}], actions={"skills": ["returns"]})
    channel = await make_api_channel(client, admin, team_id=support)
    for _ in range(2):
        conversation = await open_conversation(client, ctx, admin, channel=channel, text="Оформить возврат")
        assert (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()["assignee_id"] == people[1]
    other = await open_conversation(client, ctx, admin, channel=channel, text="Вопрос по доставке")
    assert (await client.get(f"/api/v1/conversations/{other['id']}", headers=admin)).json()["assignee_id"] == people[0]  # least loaded


async def test_a_redelivered_event_routes_once(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await rule(client, admin, name="Все", conditions=[], actions={"tags": ["seen"]})
    conversation = await open_conversation(client, ctx, admin)
    async with ctx.db.reading() as session:
        row = (await session.execute(select(OutboxEvent).where(OutboxEvent.topic == "conversation.opened"))).scalar_one()
    await ctx.bus.publish(Event(id=row.id, topic=row.topic, payload=row.payload, created_at=row.created_at))
    await ctx.settle()
    assert len(await timeline_of(ctx, conversation["id"], "conversation.routed")) == 1


async def test_rule_mistakes_are_explained_and_rules_can_be_changed_and_removed(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    bad = [
        ({"conditions": [{"field": "message.body", "op": "contains", "value": "x"}]}, "conditions[0].field 'message.body' is unknown"),
        ({"conditions": [{"field": "channel.kind", "op": "matches", "value": "x"}]}, "does not apply to channel.kind"),
        ({"conditions": [{"field": "message.text", "op": "matches", "value": "(unclosed"}]}, "not a valid regular expression"),
        ({"conditions": [{"field": "time", "op": "between", "value": ["9", "25:00"]}]}, "not HH:MM"),
        ({"conditions": [{"field": "weekday", "op": "in", "value": ["monday"]}]}, "unknown weekdays"),
        ({"actions": {"team_id": 404}}, "team 404 does not exist"),
        ({"actions": {"assign_to": 1}}, "unknown keys"),
        ({"actions": {"priority": 7}}, "actions.priority"),
        ({"events": ["message.sent"]}, "events must be"),
    ]
    for patch, expected in bad:
        body = {"name": "r", "conditions": [], "actions": {"tags": ["x"]}, **patch}
        response = await client.post("/api/v1/routing/rules", json=body, headers=admin)
        assert response.status_code == 422 and expected in response.json()["detail"], (patch, response.text)
    created = await rule(client, admin, name="r", actions={"tags": ["x"]})
    operator = await make_operator(ctx)
    assert (await client.patch(f"/api/v1/routing/rules/{created['id']}", json={"enabled": False}, headers=await login(client, email=operator["email"]))).status_code == 403
    changed = await client.patch(f"/api/v1/routing/rules/{created['id']}", json={"enabled": False, "actions": {"priority": 0}}, headers=admin)
    assert changed.json()["enabled"] is False and changed.json()["actions"] == {"priority": 0}
    assert (await client.delete(f"/api/v1/routing/rules/{created['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/v1/routing/rules", headers=admin)).json()["items"] == []


async def test_a_status_condition_reads_the_conversation_status(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await rule(client, admin, name="Новые открытые", conditions=[{"field": "conversation.status", "op": "eq", "value": "open"}], actions={"tags": ["fresh"]})
    channel = await make_api_channel(client, admin)
    opened = await open_conversation(client, ctx, admin, channel=channel, text="Здравствуйте")
    assert opened["tags"] == ["fresh"]
