"""The audit log: reads of customer data recorded one entry per page view, in batches; the admins'
filtered query and page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from okno.kit.time import utcnow
from okno.models import AuditEntry, Conversation
from tests.factories import PASSWORD, admin_headers, login, make_api_channel, make_operator, post_inbound
from tests.files.helpers import send_files, tiny_png


async def _conversation(client, ctx, headers, *, phone: str, message_id: str) -> tuple[int, int]:
    channel = await make_api_channel(client, headers)
    assert (await post_inbound(client, channel, {"message_id": message_id, "from": {"phone": phone, "name": "Анна"}, "text": "Где заказ?"})).status_code == 200
    await ctx.settle()
    async with ctx.db.reading() as session:
        conversation = await session.scalar(select(Conversation).order_by(Conversation.id.desc()))
    return conversation.id, conversation.customer_id


async def _reads(ctx) -> list[AuditEntry]:
    await ctx.read_log.flush()
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("read.")).order_by(AuditEntry.id)))


async def test_a_conversation_page_view_is_one_entry_naming_the_conversation_and_the_customer(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    conversation_id, customer_id = await _conversation(client, ctx, admin, phone="+79160000001", message_id="a1")
    olga = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": olga["email"], "password": PASSWORD})).status_code == 200

    assert (await client.get(f"/ui/conversations/{conversation_id}")).status_code == 200
    assert ctx.read_log.pending == 1  # buffered, not written in the request
    entries = await _reads(ctx)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor_id, entry.action, entry.customer_id, entry.subject_type, entry.subject_id) == (
        olga["id"], "read.conversation_page", customer_id, "customer", str(customer_id),
    )  # fmt: skip
    assert entry.data == {"ip": "127.0.0.1", "path": f"/ui/conversations/{conversation_id}", "conversation_ids": [conversation_id]}

    assert (await client.get(f"/inbox?c={conversation_id}")).status_code == 200  # the inbox with it open: one more
    assert (await client.get("/inbox")).status_code == 200  # the inbox alone shows no conversation: none
    assert [e.action for e in await _reads(ctx)] == ["read.conversation_page", "read.conversation_page"]
    assert (await client.get("/ui/conversations/999999")).status_code == 404  # a failed read records nothing
    assert len(await _reads(ctx)) == 2


async def test_api_reads_are_audited_per_request_for_people_and_tokens(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    conversation_id, customer_id = await _conversation(client, ctx, admin, phone="+79160000002", message_id="b1")
    created = (await client.post("/api/v1/api-tokens", json={"name": "CRM", "role": "operator"}, headers=admin)).json()
    token = {"Authorization": f"Bearer {created['token']}"}
    for path in (
        f"/api/v1/customers/{customer_id}",
        f"/api/v1/customers/{customer_id}/timeline",
        f"/api/v1/conversations/{conversation_id}",
        f"/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/customers",
        f"/api/v1/conversations?customer_id={customer_id}",
    ):
        assert (await client.get(path, headers=token)).status_code == 200, path
    entries = await _reads(ctx)
    assert [(e.action, e.actor_id, e.customer_id) for e in entries] == [
        ("read.customer", created["operator_id"], customer_id),
        ("read.customer_timeline", created["operator_id"], customer_id),
        ("read.conversation", created["operator_id"], customer_id),
        ("read.conversation_messages", created["operator_id"], customer_id),
        ("read.customer_list", created["operator_id"], customer_id),
        ("read.conversation_list", created["operator_id"], customer_id),
    ]
    assert (await client.get("/api/v1/customers/424242", headers=token)).status_code == 404
    assert len(await _reads(ctx)) == 6


async def test_the_audit_query_filters_by_customer_actor_action_and_time_and_pages(client, ctx) -> None:
    admin_me = await make_operator(ctx, role="admin")
    admin = await login(client, email=admin_me["email"])
    first, anna = await _conversation(client, ctx, admin, phone="+79160000003", message_id="c1")
    _, boris = await _conversation(client, ctx, admin, phone="+79160000004", message_id="c2")
    olga = await make_operator(ctx)
    olga_headers = await login(client, email=olga["email"])
    for customer in (anna, boris, anna):
        assert (await client.get(f"/api/v1/customers/{customer}", headers=olga_headers)).status_code == 200
    assert (await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": "wrong password"})).status_code == 401
    await ctx.read_log.flush()

    async def query(**params) -> list[dict]:
        response = await client.get("/api/v1/audit", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    about_anna = await query(customer_id=anna)
    assert [(e["action"], e["actor_id"]) for e in about_anna] == [("read.customer", olga["id"]), ("read.customer", olga["id"])]
    assert [e["customer_id"] for e in await query(customer_id=boris)] == [boris]
    by_olga = await query(actor_id=olga["id"])
    assert [e["action"] for e in by_olga] == ["read.customer", "read.customer", "read.customer", "operator.logged_in"]
    assert len(await query(action="read.")) == 3 and await query(action="read") == []
    failed = await query(action="auth.login_failed")
    assert len(failed) == 1 and failed[0]["data"]["ip"] == "127.0.0.1" and failed[0]["data"]["email"] == olga["email"]
    soon = (utcnow() + timedelta(minutes=5)).isoformat()
    assert await query(**{"from": soon}) == []
    assert len(await query(to=soon, action="read.customer")) == 3
    assert await query(to=(utcnow() - timedelta(days=1)).isoformat()) == []

    page = (await client.get("/api/v1/audit", params={"limit": 2}, headers=admin)).json()
    rest = (await client.get("/api/v1/audit", params={"limit": 500, "before_id": page["next_cursor"]}, headers=admin)).json()
    everything = await query(limit=500)
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in everything]
    assert rest["next_cursor"] is None and len(everything) > 6

    bad = await client.get("/api/v1/audit", params={"from": soon, "to": utcnow().isoformat()}, headers=admin)
    assert bad.status_code == 422
    assert (await client.get("/api/v1/audit", params={"from": "2026-01-01T00:00:00"}, headers=admin)).status_code == 422  # no timezone
    assert first  # the conversation exists; its reads are covered above


async def test_merges_and_unmerges_are_in_the_audit_log(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    _, anna = await _conversation(client, ctx, admin, phone="+79160000005", message_id="d1")
    _, twin = await _conversation(client, ctx, admin, phone="+79160000006", message_id="d2")
    merged = await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": twin, "reason": "same person"}, headers=admin)
    assert merged.status_code == 200, merged.text
    items = (await client.get("/api/v1/audit", params={"customer_id": anna, "action": "customer.merged"}, headers=admin)).json()["items"]
    assert len(items) == 1 and items[0]["data"]["merged_id"] == twin
    merge_id = items[0]["data"]["merge_id"]
    assert (await client.post(f"/api/v1/merges/{merge_id}/undo", json={"reason": "not the same"}, headers=admin)).status_code == 200
    undone = (await client.get("/api/v1/audit", params={"customer_id": twin, "action": "customer.unmerged"}, headers=admin)).json()["items"]
    assert len(undone) == 1 and undone[0]["data"]["survivor_id"] == anna


async def test_the_audit_page_lists_entries_for_admins_in_russian_and_english(client, ctx) -> None:
    admin_me = await make_operator(ctx, role="admin", name="Админ")
    admin = await login(client, email=admin_me["email"])
    conversation_id, customer_id = await _conversation(client, ctx, admin, phone="+79160000007", message_id="e1")
    created = (await client.post("/api/v1/api-tokens", json={"name": "Склад", "role": "operator"}, headers=admin)).json()
    assert (await client.get(f"/api/v1/customers/{customer_id}", headers={"Authorization": f"Bearer {created['token']}"})).status_code == 200
    await ctx.read_log.flush()

    supervisor = await make_operator(ctx, role="supervisor")
    assert (await client.post("/ui/session", json={"email": supervisor["email"], "password": PASSWORD})).status_code == 200
    assert (await client.get("/admin/audit")).status_code == 403
    assert (await client.post("/ui/session", json={"email": admin_me["email"], "password": PASSWORD})).status_code == 200
    assert 'href="/admin/audit"' in (await client.get("/admin/channels")).text

    page = await client.get("/admin/audit")
    assert page.status_code == 200
    assert "Журнал аудита" in page.text and "открыл карточку клиента" in page.text and "Склад" in page.text and "API-токен" in page.text
    assert "создал API-токен" in page.text
    only_reads = await client.get(f"/admin/audit?customer_id={customer_id}&action=read.")
    assert "открыл карточку клиента" in only_reads.text and "создал API-токен" not in only_reads.text
    today = utcnow().date().isoformat()
    assert "открыл карточку клиента" in (await client.get(f"/admin/audit?from={today}&to={today}")).text
    assert "Записей не найдено." in (await client.get("/admin/audit?from=2001-01-01&to=2001-01-02")).text
    assert (await client.get("/admin/audit?from=yesterday")).status_code == 422
    await client.post("/ui/preferences/language", json={"locale": "en"}, headers={"X-Okno-Client": "web"})
    english = await client.get("/admin/audit")
    assert "Audit log" in english.text and "viewed a customer profile" in english.text and "Журнал" not in english.text
    assert conversation_id


async def test_attachment_downloads_are_read_audited_one_entry_per_page_of_files(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    conversation_id, customer_id = await _conversation(client, ctx, admin, phone="+79160000009", message_id="f1")
    files = [("счёт.png", tiny_png(2, 2), "image/png"), ("акт.png", tiny_png(3, 3), "image/png")]
    assert (await send_files(client, admin, conversation_id, files)).status_code in (200, 201)
    await ctx.settle()
    await _reads(ctx)  # the set-up's own reads written
    async with ctx.db.reading() as session:
        already = {e.id for e in await session.scalars(select(AuditEntry))}
    olga = await make_operator(ctx)
    olga_headers = await login(client, email=olga["email"])
    message = next(m for m in (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=admin)).json()["items"] if m["attachments"])

    for index in (0, 1, 0):  # the page shows both images; one is opened again
        assert (await client.get(f"/api/v1/messages/{message['id']}/attachments/{index}", headers=olga_headers)).status_code == 200
    assert (await client.get(f"/api/v1/messages/{message['id']}/attachments/7", headers=olga_headers)).status_code == 404  # nothing shown
    entries = [e for e in await _reads(ctx) if e.id not in already and e.action == "read.attachment"]
    assert [(e.actor_id, e.customer_id, e.subject_type, e.subject_id) for e in entries] == [(olga["id"], customer_id, "customer", str(customer_id))]
    assert entries[0].data == {
        "ip": "127.0.0.1", "path": f"/api/v1/messages/{message['id']}/attachments/0",
        "conversation_ids": [conversation_id], "attachments": [f"{message['id']}/0", f"{message['id']}/1"],
    }  # fmt: skip

    assert (await client.get(f"/api/v1/messages/{message['id']}/attachments/1", headers=olga_headers)).status_code == 200
    later = [e for e in await _reads(ctx) if e.id not in already and e.action == "read.attachment"]
    assert len(later) == 2 and later[1].data["attachments"] == [f"{message['id']}/1"]  # after a flush: a new entry
    by_admin = (await client.get("/api/v1/audit", params={"customer_id": customer_id, "action": "read.attachment"}, headers=admin)).json()
    assert [e["actor_id"] for e in by_admin["items"]] == [olga["id"], olga["id"]]
