"""The ingest pipeline end to end through the API channel's real webhook."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from okno.channels.adapters.api.signing import sign
from okno.models import Conversation, Customer, Identity, InboundItem, Message, OutboxEvent
from tests.factories import admin_headers, make_api_channel, post_inbound, signed


async def count(ctx, model) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_two_phone_formats_and_email_land_on_one_customer(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)

    first = await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+7 916 123-45-67", "name": "Анна"}, "text": "Здравствуйте"})
    assert first.status_code == 200 and first.json() == {"accepted": 1, "duplicates": 0}
    await ctx.settle()
    second = await post_inbound(
        client, channel, {"message_id": "m2", "from": {"phone": "89161234567", "email": "Anna@Example.RU"}, "text": "Это снова я"}
    )
    assert second.status_code == 200
    await ctx.settle()

    found = (await client.get("/api/v1/customers", params={"identity": "phone:8 (916) 123-45-67"}, headers=headers)).json()["items"]
    assert len(found) == 1
    customer = found[0]
    assert customer["name"] == "Анна"
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {("phone", "+79161234567"), ("email", "anna@example.ru")}
    by_email = (await client.get("/api/v1/customers", params={"identity": "email:ANNA@example.ru"}, headers=headers)).json()["items"]
    assert [c["id"] for c in by_email] == [customer["id"]]

    conversations = (await client.get("/api/v1/conversations", params={"customer_id": customer["id"], "status": "open"}, headers=headers)).json()["items"]
    assert len(conversations) == 1
    messages = (await client.get(f"/api/v1/conversations/{conversations[0]['id']}/messages", headers=headers)).json()["items"]
    assert [m["text"] for m in messages] == ["Здравствуйте", "Это снова я"]
    assert all(m["direction"] == "in" and m["channel_id"] == channel["id"] for m in messages)

    timeline = (await client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=headers)).json()["items"]
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("message.received") == 2 and "conversation.opened" in kinds
    assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)
    assert await count(ctx, Customer) == 1


async def test_duplicate_delivery_is_acknowledged_and_changes_nothing(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    payload = {"message_id": "dup-1", "from": {"phone": "+79160000001"}, "text": "once"}
    assert (await post_inbound(client, channel, payload)).json() == {"accepted": 1, "duplicates": 0}
    await ctx.settle()
    before = [await count(ctx, m) for m in (Customer, Message, Conversation, OutboxEvent, InboundItem)]
    again = await post_inbound(client, channel, payload)
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 1}
    await ctx.settle()
    assert [await count(ctx, m) for m in (Customer, Message, Conversation, OutboxEvent, InboundItem)] == before


async def test_bad_signature_unsigned_and_malformed_bodies_store_nothing(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    payload = {"message_id": "x", "from": {"phone": "+79160000002"}, "text": "hi"}
    body, good = signed(channel["secret"], payload)

    forged = await client.post(f"/webhooks/{channel['id']}", content=body, headers={**good, "x-okno-signature": "sha256=" + "0" * 64})
    assert forged.status_code == 401 and "signature" in forged.json()["detail"].lower()
    unsigned = await client.post(f"/webhooks/{channel['id']}", content=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    tampered = await client.post(f"/webhooks/{channel['id']}", content=body.replace(b"hi", b"ho"), headers=good)
    assert tampered.status_code == 401

    for bad in (b"{not json", b"[]", b'{"message_id": "y"}', b'{"message_id": "", "from": {"phone": "1"}}', b'{"message_id": "z", "from": {}}'):
        response = await client.post(f"/webhooks/{channel['id']}", content=bad, headers={"x-okno-signature": sign(channel["secret"], bad)})
        assert response.status_code == 422, (bad, response.text)
        assert isinstance(response.json()["detail"], str)

    missing = await client.post("/webhooks/999999", content=body, headers=good)
    assert missing.status_code == 404
    await ctx.settle()
    assert await count(ctx, InboundItem) == 0
    assert await count(ctx, Customer) == 0


async def test_oversized_body_is_refused(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    big = {"message_id": "big", "from": {"phone": "+79160000003"}, "text": "я" * (ctx.settings.webhook_max_body_bytes)}
    response = await post_inbound(client, channel, big)
    assert response.status_code == 413
    assert await count(ctx, InboundItem) == 0


async def test_open_conversation_continues_across_channels(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    shop = await make_api_channel(client, headers)
    await post_inbound(client, crm, {"message_id": "a", "from": {"phone": "+79161112233"}, "text": "заказ 1"})
    await post_inbound(client, shop, {"message_id": "a", "from": {"phone": "8 916 111 22 33"}, "text": "где заказ?"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1
        channels = (await session.scalars(select(Message.channel_id).order_by(Message.id))).all()
    assert channels == [crm["id"], shop["id"]]


async def test_same_customer_twice_in_one_batch_gets_one_profile(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for i in range(5):
        await post_inbound(client, channel, {"message_id": f"b{i}", "from": {"external_id": "u-1", "phone": "+79165550000"}, "text": f"#{i}"})
    await post_inbound(client, channel, {"message_id": "b9", "from": {"external_id": "u-2"}, "text": "other"})
    await ctx.settle()
    assert await count(ctx, Customer) == 2
    assert await count(ctx, Conversation) == 2
    async with ctx.db.reading() as session:
        keys = set((await session.execute(select(Identity.kind, Identity.value))).all())
    assert keys == {("external", f"{channel['id']}:u-1"), ("phone", "+79165550000"), ("external", f"{channel['id']}:u-2")}


async def test_key_claimed_by_two_customers_is_a_conflict_not_a_merge(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "1", "from": {"phone": "+79160000010"}, "text": "I am A"})
    await post_inbound(client, channel, {"message_id": "2", "from": {"email": "b@example.com"}, "text": "I am B"})
    await ctx.settle()
    await post_inbound(client, channel, {"message_id": "3", "from": {"phone": "+79160000010", "email": "b@example.com"}, "text": "both?"})
    await ctx.settle()
    a = (await client.get("/api/v1/customers", params={"identity": "phone:+79160000010"}, headers=headers)).json()["items"][0]
    b = (await client.get("/api/v1/customers", params={"identity": "email:b@example.com"}, headers=headers)).json()["items"][0]
    assert a["id"] != b["id"]
    assert [i["kind"] for i in a["identities"]] == ["phone"]
    timeline = (await client.get(f"/api/v1/customers/{a['id']}/timeline", headers=headers)).json()["items"]
    conflicts = [e for e in timeline if e["kind"] == "identity.conflict"]
    assert conflicts and conflicts[0]["data"] == {"identity": "email:b@example.com", "claimed_by_customer_id": b["id"]}


async def test_a_poison_item_fails_alone(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    async with ctx.db.transaction() as session:
        await session.execute(
            insert(InboundItem),
            [{"channel_id": channel["id"], "provider_id": "poison", "item": {"kind": "message", "provider_id": "poison", "sender": [{"kind": "phone", "value": "not a phone"}]}, "raw": "", "status": "pending"}],
        )
    await post_inbound(client, channel, {"message_id": "ok", "from": {"phone": "+79160000020"}, "text": "fine"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        rows = dict((await session.execute(select(InboundItem.provider_id, InboundItem.status))).all())
        error = await session.scalar(select(InboundItem.error).where(InboundItem.provider_id == "poison"))
    assert rows == {"poison": "failed", "ok": "done"}
    assert "not a phone" in error
    assert await count(ctx, Message) == 1


async def test_new_conversation_is_routed_to_the_channel_team(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    channel = await make_api_channel(client, headers, team_id=team["id"])
    await post_inbound(client, channel, {"message_id": "r1", "from": {"phone": "+79160000030"}, "text": "help"})
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    assert conversation["team_id"] == team["id"]
    timeline = (await client.get(f"/api/v1/customers/{conversation['customer_id']}/timeline", headers=headers)).json()["items"]
    assert any(e["kind"] == "conversation.routed" for e in timeline)
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))) == 0
