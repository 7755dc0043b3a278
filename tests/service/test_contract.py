"""The API the operator UI builds on: statuses, reasons, status/assign/priority/escalate, presence."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from okno.models import AuditEntry
from tests.factories import admin_headers, login, make_operator
from tests.service.helpers import open_conversation, outbox_of, timeline_of

LABEL = {"ru": "Ждём склад", "en": "Waiting for the warehouse"}


async def _operator_headers(ctx, client, **kwargs) -> tuple[dict, dict]:  # noqa: ANN001
    operator = await make_operator(ctx, **kwargs)
    return operator, await login(client, email=operator["email"])


async def test_statuses_and_reasons_are_seeded_with_types_and_both_languages(client, ctx) -> None:
    _, headers = await _operator_headers(ctx, client)
    statuses = (await client.get("/api/v1/statuses", headers=headers)).json()["items"]
    assert [(s["key"], s["type"]) for s in statuses] == [
        ("open", "open"), ("pending", "pending"), ("on_hold", "on_hold"), ("resolved", "resolved"), ("closed", "closed")
    ]
    assert statuses[0] == {"key": "open", "type": "open", "label": {"ru": "Открыто", "en": "Open"}, "position": 10}
    reasons = (await client.get("/api/v1/reasons", headers=headers)).json()["items"]
    assert {r["key"] for r in reasons} == {"delivery", "payment", "return", "complaint", "consultation", "other", "answered_at_provider"}  # the last: reviews answered in the cabinet
    assert all(r["active"] and r["label"]["ru"] and r["label"]["en"] and set(r) == {"key", "label", "active"} for r in reasons)


async def test_only_admins_change_the_lists_and_mistakes_are_explained(client, ctx) -> None:
    _, operator = await _operator_headers(ctx, client)
    admin = await admin_headers(ctx, client)
    body = {"key": "waiting_stock", "type": "on_hold", "label": LABEL}
    assert (await client.post("/api/v1/statuses", json=body, headers=operator)).status_code == 403

    created = await client.post("/api/v1/statuses", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json() == {"key": "waiting_stock", "type": "on_hold", "label": LABEL, "position": 60}
    assert (await client.post("/api/v1/statuses", json=body, headers=admin)).status_code == 409

    bad_type = await client.post("/api/v1/statuses", json={**body, "key": "x_y", "type": "snoozed"}, headers=admin)
    assert bad_type.status_code == 422 and "snoozed" in bad_type.json()["detail"] and "on_hold" in bad_type.json()["detail"]
    bad_key = await client.post("/api/v1/statuses", json={**body, "key": "Ждём"}, headers=admin)
    assert bad_key.status_code == 422 and "lower-case latin" in bad_key.json()["detail"]
    no_en = await client.post("/api/v1/statuses", json={**body, "key": "no_en", "label": {"ru": "Только русский"}}, headers=admin)
    assert no_en.status_code == 422 and "en" in no_en.json()["detail"]
    built_in = await client.patch("/api/v1/statuses/open", json={"type": "closed"}, headers=admin)
    assert built_in.status_code == 422 and "built in" in built_in.json()["detail"]

    relabelled = await client.patch("/api/v1/statuses/open", json={"label": {"ru": "В работе", "en": "In progress"}, "position": 1}, headers=admin)
    assert relabelled.json()["label"] == {"ru": "В работе", "en": "In progress"}
    assert (await client.get("/api/v1/statuses", headers=operator)).json()["items"][0]["label"]["en"] == "In progress"
    assert (await client.patch("/api/v1/statuses/nope", json={"position": 1}, headers=admin)).status_code == 404

    reason = await client.post("/api/v1/reasons", json={"key": "warranty", "label": {"ru": "Гарантия", "en": "Warranty"}}, headers=admin)
    assert reason.status_code == 201 and reason.json() == {"key": "warranty", "label": {"ru": "Гарантия", "en": "Warranty"}, "active": True}
    assert (await client.patch("/api/v1/reasons/warranty", json={"active": False}, headers=operator)).status_code == 403
    assert (await client.patch("/api/v1/reasons/warranty", json={"active": False}, headers=admin)).json()["active"] is False
    async with ctx.db.reading() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type.in_(("status", "reason"))).order_by(AuditEntry.id)))
    assert actions == ["status.added", "status.changed", "reason.added", "reason.changed"]


async def test_status_change_with_reason_is_on_the_timeline_and_in_the_outbox(client, ctx) -> None:
    operator, headers = await _operator_headers(ctx, client)
    conversation = await open_conversation(client, ctx, headers)
    cid = conversation["id"]
    assert conversation["sla_due_at"] is None and conversation["tags"] == []

    resolved = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "resolved", "reason": "delivery", "comment": "Трек-номер отправлен"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["reason"] == "delivery" and body["resolved_at"] is not None

    [entry] = await timeline_of(ctx, cid, "conversation.status_changed")
    assert entry.actor_id == operator["id"]
    assert entry.data == {"conversation_id": cid, "by": operator["id"], "from": "open", "to": "resolved", "type": "resolved", "reason": "delivery", "comment": "Трек-номер отправлен"}
    [event] = await outbox_of(ctx, "conversation.status_changed")
    assert event["conversation_id"] == cid and event["customer_id"] == conversation["customer_id"] and event["status"] == "resolved"
    assert len(orjson.dumps(event)) < 1000

    reopened = (await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "open"}, headers=headers)).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None and reopened["reason"] == "delivery"
    again = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "open"}, headers=headers)
    assert again.status_code == 200
    assert len(await timeline_of(ctx, cid, "conversation.status_changed")) == 2  # the no-op records nothing


async def test_unknown_status_or_reason_is_a_422_that_lists_the_choices(client, ctx) -> None:
    _, headers = await _operator_headers(ctx, client)
    cid = (await open_conversation(client, ctx, headers))["id"]
    unknown = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "done"}, headers=headers)
    assert unknown.status_code == 422 and "'done'" in unknown.json()["detail"] and "resolved" in unknown.json()["detail"]
    bad_reason = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "resolved", "reason": "aliens"}, headers=headers)
    assert bad_reason.status_code == 422 and "delivery" in bad_reason.json()["detail"]
    missing = await client.post("/api/v1/conversations/999999/status", json={"status": "open"}, headers=headers)
    assert missing.status_code == 404
    listed = await client.get("/api/v1/conversations", params={"status": "done"}, headers=headers)
    assert listed.status_code == 422 and "pending" in listed.json()["detail"]


async def test_a_switched_off_reason_cannot_be_chosen(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    cid = (await open_conversation(client, ctx, admin))["id"]
    await client.patch("/api/v1/reasons/other", json={"active": False}, headers=admin)
    refused = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "resolved", "reason": "other"}, headers=admin)
    assert refused.status_code == 422 and "switched off" in refused.json()["detail"]


async def test_resolving_may_require_a_reason(client, ctx) -> None:
    ctx.settings.require_reason_to_resolve = True
    _, headers = await _operator_headers(ctx, client)
    cid = (await open_conversation(client, ctx, headers))["id"]
    refused = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "closed"}, headers=headers)
    assert refused.status_code == 422 and "reason is required" in refused.json()["detail"]
    assert (await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "pending"}, headers=headers)).status_code == 200
    ok = await client.post(f"/api/v1/conversations/{cid}/status", json={"status": "closed", "reason": "payment"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["status"] == "closed"


async def test_a_custom_waiting_status_is_reopened_by_the_customer_like_a_built_in_one(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    await client.post("/api/v1/statuses", json={"key": "waiting_stock", "type": "on_hold", "label": LABEL}, headers=admin)
    await client.post("/api/v1/statuses", json={"key": "archived", "type": "closed", "label": {"ru": "Архив", "en": "Archived"}}, headers=admin)
    from tests.factories import make_api_channel, post_inbound

    channel = await make_api_channel(client, admin)
    first = await open_conversation(client, ctx, admin, channel=channel)
    await client.post(f"/api/v1/conversations/{first['id']}/status", json={"status": "waiting_stock"}, headers=admin)
    customer = (await client.get(f"/api/v1/customers/{first['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")
    await post_inbound(client, channel, {"message_id": "again-1", "from": {"phone": phone}, "text": "Ну что там?"})
    await ctx.settle()
    same = (await client.get(f"/api/v1/conversations/{first['id']}", headers=admin)).json()
    assert same["status"] == "open"  # continued and reopened, not a new conversation

    await client.post(f"/api/v1/conversations/{first['id']}/status", json={"status": "archived"}, headers=admin)
    await post_inbound(client, channel, {"message_id": "again-2", "from": {"phone": phone}, "text": "Новый вопрос"})
    await ctx.settle()
    mine = (await client.get("/api/v1/conversations", params={"customer_id": first["customer_id"]}, headers=admin)).json()["items"]
    assert [c["status"] for c in mine] == ["open", "archived"]  # a finished custom status starts a new one


async def test_assign_transfer_and_unassign(client, ctx) -> None:
    me, headers = await _operator_headers(ctx, client)
    colleague = await make_operator(ctx)
    admin = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Вторая линия"}, headers=admin)).json()
    cid = (await open_conversation(client, ctx, headers))["id"]

    taken = (await client.post(f"/api/v1/conversations/{cid}/assign", json={"operator_id": me["id"]}, headers=headers)).json()
    assert taken["assignee_id"] == me["id"] and taken["team_id"] is None
    moved = await client.post(
        f"/api/v1/conversations/{cid}/assign", json={"operator_id": colleague["id"], "team_id": team["id"], "comment": "по оплате"}, headers=headers
    )
    assert moved.json()["assignee_id"] == colleague["id"] and moved.json()["team_id"] == team["id"]
    # handed to another team (whose member he is not) and a colleague, it is out of his sight (okno.access)
    assert (await client.get(f"/api/v1/conversations/{cid}", headers=headers)).status_code == 404
    dropped = (await client.post(f"/api/v1/conversations/{cid}/assign", json={"operator_id": None}, headers=admin)).json()
    assert dropped["assignee_id"] is None and dropped["team_id"] == team["id"]  # team left out: it stays

    entries = await timeline_of(ctx, cid, "conversation.assigned")
    assert [(e.data["from"], e.data["to"]) for e in entries] == [(None, me["id"]), (me["id"], colleague["id"]), (colleague["id"], None)]
    assert entries[1].data["team_to"] == team["id"] and entries[1].data["comment"] == "по оплате"
    events = await outbox_of(ctx, "conversation.assigned")
    assert [e["operator_id"] for e in events] == [me["id"], colleague["id"], None] and all(e["customer_id"] for e in events)

    assert (await client.post(f"/api/v1/conversations/{cid}/assign", json={"operator_id": 99999}, headers=admin)).status_code == 422
    assert (await client.post(f"/api/v1/conversations/{cid}/assign", json={"team_id": 99999}, headers=admin)).status_code == 422


async def test_priority_and_escalation(client, ctx) -> None:
    me, headers = await _operator_headers(ctx, client)
    admin = await admin_headers(ctx, client)
    supervisors = (await client.post("/api/v1/teams", json={"name": "Супервизоры"}, headers=admin)).json()
    cid = (await open_conversation(client, ctx, headers))["id"]
    await client.post(f"/api/v1/conversations/{cid}/assign", json={"operator_id": me["id"]}, headers=headers)

    urgent = await client.post(f"/api/v1/conversations/{cid}/priority", json={"priority": 3}, headers=headers)
    assert urgent.status_code == 200 and urgent.json()["priority"] == 3
    assert (await client.post(f"/api/v1/conversations/{cid}/priority", json={"priority": 4}, headers=headers)).status_code == 422
    [changed] = await timeline_of(ctx, cid, "conversation.priority_changed")
    assert (changed.data["from"], changed.data["to"], changed.data["by"]) == (1, 3, me["id"])

    for blank in ("", "   "):
        refused = await client.post(f"/api/v1/conversations/{cid}/escalate", json={"team_id": supervisors["id"], "comment": blank}, headers=headers)
        assert refused.status_code == 422
    escalated = await client.post(
        f"/api/v1/conversations/{cid}/escalate", json={"team_id": supervisors["id"], "comment": "Клиент требует руководителя"}, headers=headers
    )
    assert escalated.status_code == 200
    assert escalated.json()["team_id"] == supervisors["id"] and escalated.json()["assignee_id"] is None
    [entry] = await timeline_of(ctx, cid, "conversation.escalated")
    assert entry.data["to"] == supervisors["id"] and entry.data["previous_assignee"] == me["id"] and entry.data["comment"] == "Клиент требует руководителя"
    [event] = await outbox_of(ctx, "conversation.escalated")
    assert event["team_id"] == supervisors["id"] and event["customer_id"]


async def test_presence_and_routing_attributes(client, ctx) -> None:
    me, headers = await _operator_headers(ctx, client)
    admin = await admin_headers(ctx, client)
    listed = (await client.get("/api/v1/operators", headers=headers)).json()["items"]
    mine = next(o for o in listed if o["id"] == me["id"])
    assert (mine["presence"], mine["experienced"], mine["skills"], mine["capacity"]) == ("offline", False, [], {"chat": 5, "email": 10, "call": 1})

    online = await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=headers)
    assert online.status_code == 200 and online.json()["presence"] == "online"
    assert (await client.post("/api/v1/operators/me/presence", json={"status": "busy"}, headers=headers)).status_code == 422
    assert await outbox_of(ctx, "operator.presence_changed") == [{"operator_id": me["id"], "from": "offline", "to": "online"}]

    body = {"experienced": True, "skills": ["Returns", "english", "returns"], "capacity": {"chat": 3}}
    assert (await client.patch(f"/api/v1/operators/{me['id']}", json=body, headers=headers)).status_code == 403
    edited = (await client.patch(f"/api/v1/operators/{me['id']}", json=body, headers=admin)).json()
    assert edited["experienced"] is True and edited["skills"] == ["returns", "english"]
    assert edited["capacity"] == {"chat": 3, "email": 10, "call": 1}
    wrong = await client.patch(f"/api/v1/operators/{me['id']}", json={"capacity": {"sms": 2}}, headers=admin)
    assert wrong.status_code == 422 and "sms" in wrong.json()["detail"]
    negative = await client.patch(f"/api/v1/operators/{me['id']}", json={"capacity": {"chat": -1}}, headers=admin)
    assert negative.status_code == 422
