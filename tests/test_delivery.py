"""Outbound replies: signed POSTs to the channel URL, retries with one idempotency key, visible failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.adapters.api.signing import sign
from okno.channels.delivery import RetryPolicy
from okno.kit.time import utcnow
from okno.models import DeliveryJob
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, post_inbound

SECRET = "delivery-secret-0123456789"


@pytest.fixture
async def receiver():  # noqa: ANN201
    fake = FakeApiReceiver()
    fake.add_box("crm", SECRET)
    async with LoopbackServer(fake.app) as server:
        fake.url = f"{server.url}/boxes/crm/messages"  # type: ignore[attr-defined]
        yield fake


async def _conversation_with_inbound(client, ctx, outbound_url: str | None) -> tuple[dict, dict, int]:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=outbound_url)
    await post_inbound(client, channel, {"message_id": "in-1", "from": {"external_id": "c-77", "phone": "+79161234567", "name": "Пётр"}, "text": "Где мой заказ?"})
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    return headers, channel, conversation["id"]


async def _wait_for_status(client, headers, conversation_id: int, message_id: int, statuses: set[str], timeout: float = 5.0) -> dict:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    ctx = client._transport.app.state.ctx  # noqa: SLF001
    while True:
        await ctx.settle()
        messages = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json()["items"]
        message = next(m for m in messages if m["id"] == message_id)
        if message["status"] in statuses or asyncio.get_running_loop().time() > deadline:
            return message
        await asyncio.sleep(0.02)


async def test_reply_is_signed_and_retried_to_exactly_once_in_effect(client, ctx, receiver) -> None:
    headers, channel, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    receiver.fail_next("crm", 3, status=500)

    posted = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Заказ уже в пути"}, headers=headers)
    assert posted.status_code == 201, posted.text
    reply = posted.json()
    assert reply["status"] == "queued" and reply["direction"] == "out" and reply["channel_id"] == channel["id"]

    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"sent", "failed"})
    assert final["status"] == "sent" and final["error"] is None
    box = receiver.boxes["crm"]
    assert len(box.attempts) == 4
    assert len({a["idempotency_key"] for a in box.attempts}) == 1 and all(a["signed"] for a in box.attempts)
    assert len(box.deliveries) == 1
    delivered = next(iter(box.deliveries.values()))
    assert final["provider_message_id"] == delivered["id"]
    body = delivered["body"]
    assert body["text"] == "Заказ уже в пути"
    assert body["to"] == {"external_id": "c-77", "phone": "+79161234567", "email": None, "name": "Пётр"}
    assert body["message_id"] == str(reply["id"])

    timeline = (await client.get(f"/api/v1/customers/{final['customer_id']}/timeline", headers=headers)).json()["items"]
    assert [e["kind"] for e in timeline if e["message_id"] == reply["id"]] == ["message.queued", "message.sent"]


async def test_signature_on_outbound_verifies_with_the_channel_secret(client, ctx, receiver) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    receiver.boxes["crm"].secret = "some-other-secret-value"
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["status"] == "failed" and "401" in final["error"]


async def test_rate_limit_hint_is_honoured(client, ctx, receiver) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    receiver.fail_next("crm", 1, status=429, retry_after=30)
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    before = utcnow()
    await ctx.settle()
    async with ctx.db.reading() as session:
        job = await session.scalar(select(DeliveryJob).where(DeliveryJob.message_id == reply["id"]))
    assert job.status == "pending" and job.attempts == 1
    assert job.next_attempt_at >= before + timedelta(seconds=29)
    message = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json()["items"][-1]
    assert message["status"] == "queued" and "429" in message["error"]


async def test_permanent_refusal_fails_with_the_providers_reason(client, ctx, receiver) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    receiver.fail_next("crm", 1, status=422)
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["status"] == "failed"
    assert final["error"].startswith("HTTP 422") and "scripted failure 422" in final["error"]
    assert len(receiver.boxes["crm"].attempts) == 1


async def test_gives_up_after_max_attempts(client, ctx, receiver) -> None:
    ctx.delivery.policy = RetryPolicy(max_attempts=3, base_seconds=0.01, max_seconds=0.02)
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    receiver.fail_next("crm", 10, status=503)
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["status"] == "failed" and final["error"].startswith("gave up after 3 attempts: HTTP 503")
    assert len(receiver.boxes["crm"].attempts) == 3


async def test_unreachable_receiver_is_retried_not_lost(client, ctx) -> None:
    ctx.delivery.policy = RetryPolicy(max_attempts=8, base_seconds=60, max_seconds=60)
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, "http://127.0.0.1:9/nothing-listens")
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    await ctx.settle()
    message = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json()["items"][-1]
    assert message["id"] == reply["id"] and message["status"] == "queued" and "ConnectError" in message["error"]
    async with ctx.db.reading() as session:
        job = await session.scalar(select(DeliveryJob).where(DeliveryJob.message_id == reply["id"]))
    assert job.status == "pending" and job.attempts == 1 and job.next_attempt_at > utcnow() + timedelta(seconds=40)


async def test_channel_without_outbound_url_fails_visibly(client, ctx) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, None)
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=headers)).json()
    final = await _wait_for_status(client, headers, conversation_id, reply["id"], {"failed"})
    assert final["error"] == "channel has no outbound_url configured"


async def test_internal_note_never_leaves_okno(client, ctx, receiver) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    note = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "VIP, be gentle", "internal": True}, headers=headers)
    assert note.status_code == 201 and note.json()["direction"] == "note" and note.json()["status"] == "noted"
    await ctx.settle()
    assert receiver.boxes["crm"].attempts == []
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(DeliveryJob))).all() == []


async def test_reply_defaults_to_the_channel_of_the_last_inbound_message(client, ctx, receiver) -> None:
    headers, first, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    second = await make_api_channel(client, headers, secret=SECRET, outbound_url=receiver.url)
    await post_inbound(client, second, {"message_id": "in-2", "from": {"phone": "89161234567"}, "text": "пишу из магазина"})
    await ctx.settle()
    reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "ok"}, headers=headers)).json()
    assert reply["channel_id"] == second["id"]
    chosen = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "ok", "channel_id": first["id"]}, headers=headers)).json()
    assert chosen["channel_id"] == first["id"]


async def test_bad_reply_requests_get_clear_errors(client, ctx, receiver) -> None:
    headers, _, conversation_id = await _conversation_with_inbound(client, ctx, receiver.url)
    missing = await client.post("/api/v1/conversations/999999/messages", json={"text": "x"}, headers=headers)
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    empty = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "   "}, headers=headers)
    assert empty.status_code == 422
    wrong_channel = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "x", "channel_id": 424242}, headers=headers)
    assert wrong_channel.status_code == 422 and "424242" in wrong_channel.json()["detail"]
    anonymous = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "x"})
    assert anonymous.status_code == 401


def test_backoff_grows_and_respects_hints() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=2, max_seconds=60)
    assert 1.6 <= policy.delay(1) <= 2.4 and 12.8 <= policy.delay(4) <= 19.2
    assert policy.delay(10) <= 72
    assert policy.delay(1, hint=30) == 30
    assert sign("k", b"x") == sign("k", b"x")
