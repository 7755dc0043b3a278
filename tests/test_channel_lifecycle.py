"""Changing a connected channel: PATCH (re-validated settings, masked secrets kept), disable, enable."""

from __future__ import annotations

from sqlalchemy import select

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.lifecycle import WAITING_WHILE_DISABLED
from okno.channels.service import MASK
from okno.models import AuditEntry, InboundItem
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound

SECRET = "lifecycle-secret-0123456789"


async def test_patch_renames_moves_and_revalidates_keeping_masked_secrets(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=headers)).json()
    channel = await make_api_channel(client, headers, secret=SECRET)
    assert channel["config"]["secret"] == MASK

    # the admin form sends the mask back: the stored secret stays
    changed = await client.patch(
        f"/api/v1/channels/{channel['id']}",
        json={"name": " CRM 2 ", "team_id": team["id"], "config": {"secret": MASK, "outbound_url": "https://crm.example/hook"}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "CRM 2" and body["team_id"] == team["id"]
    assert body["config"] == {"secret": MASK, "outbound_url": "https://crm.example/hook"}
    inbound = {"message_id": "m-1", "from": {"external_id": "c-1"}, "text": "привет"}
    assert (await post_inbound(client, channel, inbound)).status_code == 200  # still signed with the old secret

    # a secret left out is kept too; null takes the channel off its team
    kept = await client.patch(f"/api/v1/channels/{channel['id']}", json={"team_id": None, "config": {"outbound_url": None}}, headers=headers)
    assert kept.status_code == 200 and kept.json()["team_id"] is None and kept.json()["config"]["outbound_url"] is None
    assert (await post_inbound(client, channel, {**inbound, "message_id": "m-2"})).status_code == 200

    # a new secret replaces the old one
    new_secret = "another-secret-9876543210"
    assert (await client.patch(f"/api/v1/channels/{channel['id']}", json={"config": {"secret": new_secret}}, headers=headers)).status_code == 200
    assert (await post_inbound(client, channel, {**inbound, "message_id": "m-3"})).status_code == 401
    assert (await post_inbound(client, {**channel, "secret": new_secret}, {**inbound, "message_id": "m-3"})).status_code == 200

    # bad settings are refused with the adapter's reason, and change nothing
    for config, reason in (({"secret": "short"}, "secret"), ({"unknown": 1}, "unknown"), ({"outbound_url": "not a url"}, "outbound_url")):
        refused = await client.patch(f"/api/v1/channels/{channel['id']}", json={"config": config}, headers=headers)
        assert refused.status_code == 422 and reason in refused.json()["detail"], refused.text
    assert (await client.patch(f"/api/v1/channels/{channel['id']}", json={"team_id": 999_999}, headers=headers)).status_code == 422
    assert (await client.patch("/api/v1/channels/999999", json={"name": "x"}, headers=headers)).status_code == 404
    assert (await client.patch(f"/api/v1/channels/{channel['id']}", json={"name": ""}, headers=headers)).status_code == 422

    operator = await make_operator(ctx, email="op@okno.test")
    as_operator = await login(client, email=operator["email"])
    assert (await client.patch(f"/api/v1/channels/{channel['id']}", json={"name": "x"}, headers=as_operator)).status_code == 403
    assert (await client.post(f"/api/v1/channels/{channel['id']}/disable", headers=as_operator)).status_code == 403
    async with ctx.db.reading() as session:
        audited = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "channel.updated").order_by(AuditEntry.id))).all()
    assert [a.data["changed"] for a in audited] == [["name", "team_id", "config"], ["team_id", "config"], ["config"]]


async def test_a_disabled_channel_refuses_webhooks_and_its_queued_replies_wait_for_it(client, ctx) -> None:
    receiver = FakeApiReceiver()
    receiver.add_box("crm", SECRET)
    async with LoopbackServer(receiver.app) as server:
        headers = await admin_headers(ctx, client)
        channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=f"{server.url}/boxes/crm/messages")
        inbound = {"message_id": "in-1", "from": {"external_id": "c-7", "name": "Вера"}, "text": "вопрос"}
        assert (await post_inbound(client, channel, inbound)).status_code == 200
        await ctx.settle()
        conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
        reply = (await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "ответ"}, headers=headers)).json()

        disabled = await client.post(f"/api/v1/channels/{channel['id']}/disable", headers=headers)
        assert disabled.status_code == 200 and disabled.json()["is_active"] is False
        # webhooks: a clear refusal, nothing stored
        refused = await post_inbound(client, channel, {**inbound, "message_id": "in-2"})
        assert refused.status_code == 403 and refused.json() == {"detail": f"channel {channel['id']} is disabled"}
        async with ctx.db.reading() as session:
            assert (await session.scalars(select(InboundItem.provider_id))).all() == ["in-1"]
        # the reply queued before: not sent, and the operator sees why
        await ctx.settle()
        assert receiver.boxes["crm"].deliveries == {}
        messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
        waiting = next(m for m in messages if m["id"] == reply["id"])
        assert waiting["status"] == "queued" and waiting["error"] == WAITING_WHILE_DISABLED
        # a new reply through a disabled channel is refused at once
        again = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "ещё"}, headers=headers)
        assert again.status_code == 422 and "disabled" in again.json()["detail"]
        assert (await client.post(f"/api/v1/channels/{channel['id']}/disable", headers=headers)).status_code == 200  # idempotent

        enabled = await client.post(f"/api/v1/channels/{channel['id']}/enable", headers=headers)
        assert enabled.status_code == 200 and enabled.json()["is_active"] is True
        await ctx.settle()
        assert [d["body"]["text"] for d in receiver.boxes["crm"].deliveries.values()] == ["ответ"]
        messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
        sent = next(m for m in messages if m["id"] == reply["id"])
        assert sent["status"] == "sent" and sent["error"] is None
        assert (await post_inbound(client, channel, {**inbound, "message_id": "in-2"})).status_code == 200
