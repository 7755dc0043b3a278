"""Automation rules over the API: event + conditions → actions, with a loop guard."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import Message
from tests.factories import admin_headers, make_api_channel
from tests.service.helpers import open_conversation, timeline_of


async def automation(client, admin, **body) -> dict:  # noqa: ANN001
    response = await client.post("/api/v1/automation/rules", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_urgent_message_gets_priority_tags_a_note_and_an_automated_reply(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await client.post("/api/v1/sla/policies", json={"name": "Все", "targets": {"urgent": {"first_response": 15}}, "is_default": True}, headers=admin)
    answer = (await client.post("/api/v1/canned-answers", json={"shortcut": "got-it", "language": "ru", "title": "Приняли",
                                                               "body": "Заявка по заказу {{ order_number }} принята, оператор ответит в течение 15 минут."}, headers=admin)).json()
    await automation(client, admin, name="Срочно", event="conversation.opened",
                     conditions=[{"field": "message.text", "op": "contains", "value": ["срочно", "urgent"]}],
                     actions=[{"type": "set_priority", "priority": 3}, {"type": "add_tags", "tags": ["Срочно"]},
                              {"type": "add_note", "text": "Клиент просит срочно"}, {"type": "send_canned_answer", "answer_id": answer["id"]}])
    channel = await make_api_channel(client, admin)
    conversation = await open_conversation(client, ctx, admin, channel=channel, text="СРОЧНО: заказ 881234 не пришёл")
    now = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()
    assert now["priority"] == 3 and now["tags"] == ["срочно"]

    async with ctx.db.reading() as session:
        written = list(await session.scalars(select(Message).where(Message.conversation_id == conversation["id"], Message.direction != "in").order_by(Message.id)))
    assert [(m.direction, m.author_id) for m in written] == [("note", None), ("out", None)]
    assert written[1].text == "Заявка по заказу 881234 принята, оператор ответит в течение 15 минут."
    [applied] = await timeline_of(ctx, conversation["id"], "automation.applied")
    assert applied.data["rule"] == "Срочно" and applied.data["actions"] == ["set_priority", "add_tags", "add_note", "send_canned_answer"]
    [changed] = await timeline_of(ctx, conversation["id"], "conversation.priority_changed")
    assert changed.data["via"] == f"automation:{applied.data['rule_id']}" and changed.actor_id is None
    sla = (await client.get(f"/api/v1/conversations/{conversation['id']}/sla", headers=admin)).json()["items"]
    first = next(t for t in sla if t["metric"] == "first_response")
    assert first["target_seconds"] == 15 * 60 and first["state"] == "running"  # an automated reply is not a human response


async def test_rules_that_would_ping_pong_run_once(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await automation(client, admin, name="pending→open", event="conversation.status_changed",
                     conditions=[{"field": "conversation.status", "op": "eq", "value": "pending"}], actions=[{"type": "set_status", "status": "open"}])
    await automation(client, admin, name="open→pending", event="conversation.status_changed",
                     conditions=[{"field": "conversation.status", "op": "eq", "value": "open"}], actions=[{"type": "set_status", "status": "pending"}])
    conversation = await open_conversation(client, ctx, admin)
    await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "pending"}, headers=admin)
    await ctx.settle()
    assert (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()["status"] == "open"
    assert [e.data["rule"] for e in await timeline_of(ctx, conversation["id"], "automation.applied")] == ["pending→open"]


async def test_a_failing_action_is_recorded_and_the_other_rules_still_apply(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await automation(client, admin, name="закрыть", event="conversation.opened", actions=[{"type": "set_status", "status": "resolved", "reason": "other"}])
    await automation(client, admin, name="метка", event="conversation.opened", actions=[{"type": "add_tags", "tags": ["new"]}])
    await client.patch("/api/v1/reasons/other", json={"active": False}, headers=admin)
    conversation = await open_conversation(client, ctx, admin)
    now = (await client.get(f"/api/v1/conversations/{conversation['id']}", headers=admin)).json()
    assert now["status"] == "open" and now["tags"] == ["new"]
    [failed] = await timeline_of(ctx, conversation["id"], "automation.failed")
    assert failed.data["rule"] == "закрыть" and "switched off" in failed.data["error"]


async def test_automation_mistakes_are_explained(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    cases = [
        ({"event": "conversation.deleted"}, "event must be one of"),
        ({"actions": []}, "actions must be a list"),
        ({"actions": [{"type": "send_survey"}]}, "actions[0].survey_id is missing"),
        ({"actions": [{"type": "call_webhook"}]}, "actions[0].url must be an http:// or https:// URL"),
        ({"actions": [{"type": "set_status", "status": "done"}]}, "actions[0]: unknown status 'done'"),
        ({"actions": [{"type": "assign"}]}, "needs operator_id, team_id or both"),
        ({"actions": [{"type": "send_canned_answer", "answer_id": 5}]}, "canned answer 5 does not exist"),
        ({"conditions": [{"field": "conversation.status", "op": "contains", "value": "x"}]}, "does not apply to conversation.status"),
    ]
    for patch, expected in cases:
        body = {"name": "r", "event": "conversation.opened", "actions": [{"type": "add_tags", "tags": ["x"]}], **patch}
        response = await client.post("/api/v1/automation/rules", json=body, headers=admin)
        assert response.status_code == 422 and expected in response.json()["detail"], (patch, response.text)
    rule = await automation(client, admin, name="r", event="conversation.opened", actions=[{"type": "add_tags", "tags": ["x"]}])
    assert (await client.patch(f"/api/v1/automation/rules/{rule['id']}", json={"enabled": False}, headers=admin)).json()["enabled"] is False
    assert (await client.delete(f"/api/v1/automation/rules/{rule['id']}", headers=admin)).status_code == 204
