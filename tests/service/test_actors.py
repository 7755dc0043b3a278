"""Who did it: operators, automation rules and system timers are recorded as typed actors on
messages and timeline entries, and the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from okno.bootstrap import TIMER_HANDLERS
from okno.kit.timers import TimerWorker
from okno.models import Message
from tests.factories import admin_headers, make_api_channel, make_operator, login
from tests.service.helpers import open_conversation, timeline_of


async def test_an_operator_reply_and_note_record_the_operator(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    operator = await make_operator(ctx, name="Ольга")
    headers = await login(client, email=operator["email"])
    conversation = await open_conversation(client, ctx, admin)

    reply = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Сейчас проверю"}, headers=headers)
    note = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "VIP", "internal": True}, headers=headers)
    assert reply.status_code == note.status_code == 201
    expected = {"type": "operator", "id": operator["id"], "ref": None}
    assert reply.json()["actor"] == expected and note.json()["actor"] == expected

    messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
    assert [(m["direction"], m["actor"]["type"], m["author_id"]) for m in messages] == [
        ("in", "customer", None), ("out", "operator", operator["id"]), ("note", "operator", operator["id"])
    ]
    [queued] = await timeline_of(ctx, conversation["id"], "message.queued")
    assert (queued.actor_type, queued.actor_id) == ("operator", operator["id"])
    timeline = (await client.get(f"/api/v1/customers/{conversation['customer_id']}/timeline", headers=headers)).json()["items"]
    assert {e["kind"]: e["actor"] for e in timeline}["note.added"] == expected

    await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "pending"}, headers=headers)
    [changed] = await timeline_of(ctx, conversation["id"], "conversation.status_changed")
    assert (changed.actor_type, changed.actor_ref, changed.actor_id) == ("operator", None, operator["id"])


async def test_what_an_automation_rule_does_records_the_rule(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    rule = await client.post(
        "/api/v1/automation/rules",
        json={"name": "Приветствие", "event": "conversation.opened", "actions": [{"type": "set_priority", "priority": 2}, {"type": "add_note", "text": "Новый клиент"}]},
        headers=admin,
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    conversation = await open_conversation(client, ctx, admin, channel=await make_api_channel(client, admin))

    async with ctx.db.reading() as session:
        [note] = list(await session.scalars(select(Message).where(Message.conversation_id == conversation["id"], Message.direction == "note")))
    assert (note.actor_type, note.actor_ref, note.author_id) == ("automation", str(rule_id), None)
    [changed] = await timeline_of(ctx, conversation["id"], "conversation.priority_changed")
    assert (changed.actor_type, changed.actor_ref, changed.actor_id) == ("automation", str(rule_id), None)
    assert changed.data["via"] == f"automation:{rule_id}"  # the loop guard's marker is kept
    [applied] = await timeline_of(ctx, conversation["id"], "automation.applied")
    assert (applied.actor_type, applied.actor_ref) == ("automation", str(rule_id))

    messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=admin)).json()["items"]
    assert messages[-1]["actor"] == {"type": "automation", "id": None, "ref": str(rule_id)}
    page = await client.get(f"/ui/conversations/{conversation['id']}", headers=admin)
    assert f"Automation rule #{rule_id}" in page.text or f"Правило автоматизации №{rule_id}" in page.text


async def test_a_snooze_woken_by_its_timer_records_the_system(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    conversation = await open_conversation(client, ctx, admin)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    travel(start)
    until = start + timedelta(hours=1)
    snoozed = await client.post(f"/api/v1/conversations/{conversation['id']}/snooze", json={"until": until.isoformat()}, headers=admin)
    assert snoozed.status_code == 200, snoozed.text
    [entry] = await timeline_of(ctx, conversation["id"], "conversation.snoozed")
    assert entry.actor_type == "operator" and entry.actor_id is not None

    travel(until + timedelta(seconds=1))
    assert await TimerWorker(ctx.db, TIMER_HANDLERS).drain_once() == 1
    [ended] = await timeline_of(ctx, conversation["id"], "conversation.snooze_ended")
    assert (ended.actor_type, ended.actor_ref, ended.actor_id) == ("system", "timer:snooze", None)
    reopened = [e for e in await timeline_of(ctx, conversation["id"], "conversation.status_changed") if e.data["to"] == "open"]
    assert [(e.actor_type, e.actor_ref) for e in reopened] == [("system", "timer:snooze")]
    timeline = (await client.get(f"/api/v1/customers/{conversation['customer_id']}/timeline", headers=admin)).json()["items"]
    assert {e["kind"]: e["actor"] for e in timeline}["conversation.snooze_ended"] == {"type": "system", "id": None, "ref": "timer:snooze"}
