"""The contract every channel adapter passes, driven through its fake provider over HTTP."""

from __future__ import annotations

import asyncio
import inspect
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from okno.channels.registry import adapter_class
from okno.kit.time import utcnow
from okno.models import ChannelPollState, DeliveryJob, InboundItem, Message
from tests.channels.harnesses import HARNESSES
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, post_inbound


@pytest.fixture(params=sorted(HARNESSES))
async def wired(request, app, client, ctx):  # noqa: ANN001, ANN201
    harness = HARNESSES[request.param]
    fake = harness.make_fake()
    async with AsyncExitStack() as servers:
        if harness.okno_is_provider:  # the fake is okno's own client (the widget's visitor): serve okno
            fake.okno_url = (await servers.enter_async_context(LoopbackServer(app))).url
        else:  # serve the fake provider's API where the channel config points
            fake.base_url = (await servers.enter_async_context(LoopbackServer(fake.app))).url
        headers = await admin_headers(ctx, client)
        created = await client.post(
            "/api/v1/channels", json={"kind": harness.kind, "name": harness.kind, "config": fake.channel_config()}, headers=headers
        )
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield harness, fake, channel, headers


async def _sent_texts(fake) -> list[str]:  # noqa: ANN001
    texts = fake.sent_texts()
    return await texts if inspect.isawaitable(texts) else texts


def _skip_without_replies(harness) -> None:  # noqa: ANN001
    if not adapter_class(harness.kind).capabilities.posts_replies:
        pytest.skip(f"{harness.kind} posts no replies (declared in its capabilities): the operator answers in the provider's cabinet")


def _carries_text(harness) -> bool:  # noqa: ANN001
    """A channel with no text length (a call channel) neither receives nor sends text."""
    return adapter_class(harness.kind).capabilities.max_text_length > 0


def _skip_without_text(harness) -> None:  # noqa: ANN001
    if not _carries_text(harness):
        pytest.skip(f"{harness.kind} carries no text (its capabilities declare max_text_length 0): nothing to reply with")


def _skip_without_provider_errors(harness) -> None:  # noqa: ANN001
    _skip_without_text(harness)
    _skip_without_replies(harness)
    if harness.okno_is_provider:
        pytest.skip(f"{harness.kind}: okno is the provider, there is no outside API whose errors could be scripted")


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _collect(ctx, harness) -> None:  # noqa: ANN001
    """A polled kind's items arrive when the poll worker reads the provider: poll now."""
    if adapter_class(harness.kind).capabilities.polls:
        async with ctx.db.transaction() as session:
            await session.execute(update(ChannelPollState).values(next_poll_at=utcnow()))
        while await ctx.polls.drain_once():
            pass


def _receives_messages(harness) -> bool:  # noqa: ANN001
    return adapter_class(harness.kind).capabilities.inbound_messages


def _skip_without_inbound_messages(harness) -> None:  # noqa: ANN001
    if not _receives_messages(harness):
        pytest.skip(f"{harness.kind} brings no customers' messages (declared in its capabilities); its reports are tested instead")


async def _conversation_of_first_inbound(client, ctx, fake, harness, headers) -> int:  # noqa: ANN001
    """The customer writes in; a kind that brings no messages (an SMS gateway) finds him as an
    integration names him by its identity, in an API channel, and is then chosen for the reply."""
    if _receives_messages(harness):
        response = await fake.deliver_text(harness.user(1), "Здравствуйте, где мой заказ?")
        await _collect(ctx, harness)
    else:
        api = await make_api_channel(client, headers)
        response = await post_inbound(
            client, api, {"message_id": "m-1", "from": {harness.identity_kind: harness.user(1), "name": "Иван"}, "text": "Здравствуйте"}
        )
    assert response.status_code == 200, response.text
    await ctx.settle()
    return (await _messages(ctx))[0].conversation_id


async def _reply(client, ctx, conversation_id: int, headers, text: str = "Заказ в пути", *, channel: dict | None = None) -> int:  # noqa: ANN001
    body = {"text": text} if channel is None else {"text": text, "channel_id": channel["id"]}
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _settle_until(ctx, message_id: int, statuses: set[str], timeout: float = 5.0) -> Message:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await ctx.settle()
        message = next(m for m in await _messages(ctx) if m.id == message_id)
        if message.status in statuses or asyncio.get_running_loop().time() > deadline:
            return message
        await asyncio.sleep(0.02)


async def test_inbound_message_lands_on_a_customer(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    _skip_without_inbound_messages(harness)
    response = await fake.deliver_text(harness.user(1), "Здравствуйте 👋 нужна помощь")
    assert response.status_code == 200
    await _collect(ctx, harness)
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.direction == "in" and message.channel_id == channel["id"]
    assert message.text == "Здравствуйте 👋 нужна помощь" or not _carries_text(harness)
    found = await client.get("/api/v1/customers", params={"identity": f"{harness.identity_kind}:{harness.user(1)}"}, headers=headers)
    assert [c["id"] for c in found.json()["items"]] == [message.customer_id]


async def test_forged_request_is_refused_and_stores_nothing(client, ctx, wired) -> None:
    harness, fake, _, _ = wired
    response = await fake.deliver_forged_text(harness.user(2), "I am not the provider")
    assert 400 <= response.status_code < 500
    await _collect(ctx, harness)
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InboundItem)) == 0
    assert await _messages(ctx) == []


async def test_duplicate_delivery_makes_one_message(client, ctx, wired) -> None:
    harness, fake, _, _ = wired
    _skip_without_inbound_messages(harness)
    assert (await fake.deliver_text(harness.user(3), "один раз")).status_code == 200
    await _collect(ctx, harness)
    again = await fake.redeliver_last()
    assert again.status_code == 200
    await _collect(ctx, harness)
    await ctx.settle()
    messages = await _messages(ctx)
    assert len(messages) == 1 and (messages[0].text == "один раз" or not _carries_text(harness))


async def test_reply_reaches_the_provider(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    _skip_without_replies(harness)
    _skip_without_text(harness)
    conversation_id = await _conversation_of_first_inbound(client, ctx, fake, harness, headers)
    message_id = await _reply(client, ctx, conversation_id, headers, "Ваш заказ передан в доставку", channel=channel)
    message = await _settle_until(ctx, message_id, {"sent", "failed"})
    assert message.status == "sent", message.error
    assert message.provider_message_id
    assert await _sent_texts(fake) == ["Ваш заказ передан в доставку"]


async def test_rate_limit_is_retried_after_the_hinted_delay(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    _skip_without_provider_errors(harness)
    conversation_id = await _conversation_of_first_inbound(client, ctx, fake, harness, headers)
    fake.fail_next_send("rate_limit", retry_after=7)
    message_id = await _reply(client, ctx, conversation_id, headers, channel=channel)
    started = utcnow()
    await ctx.settle()
    async with ctx.db.reading() as session:
        job = await session.scalar(select(DeliveryJob).where(DeliveryJob.message_id == message_id))
    assert job.status == "pending" and job.attempts == 1
    assert job.next_attempt_at >= started + timedelta(seconds=6)
    assert await _sent_texts(fake) == []
    async with ctx.db.transaction() as session:  # let the hinted time pass
        await session.execute(update(DeliveryJob).where(DeliveryJob.id == job.id).values(next_attempt_at=utcnow()))
    message = await _settle_until(ctx, message_id, {"sent", "failed"})
    assert message.status == "sent" and len(await _sent_texts(fake)) == 1


async def test_permanent_error_fails_with_the_providers_reason(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    _skip_without_provider_errors(harness)
    conversation_id = await _conversation_of_first_inbound(client, ctx, fake, harness, headers)
    fake.fail_next_send("permanent")
    message_id = await _reply(client, ctx, conversation_id, headers, channel=channel)
    message = await _settle_until(ctx, message_id, {"sent", "failed"})
    assert message.status == "failed" and message.error
    assert await _sent_texts(fake) == []


async def test_statuses_never_move_backwards(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    _skip_without_text(harness)
    if not adapter_class(harness.kind).capabilities.delivery_statuses:
        pytest.skip(f"{harness.kind} reports no delivery statuses (declared in its capabilities)")
    _skip_without_replies(harness)
    conversation_id = await _conversation_of_first_inbound(client, ctx, fake, harness, headers)
    message_id = await _reply(client, ctx, conversation_id, headers, channel=channel)
    sent = await _settle_until(ctx, message_id, {"sent", "failed"})
    assert (await fake.deliver_status(sent.provider_message_id, "read")).status_code == 200
    assert (await fake.deliver_status(sent.provider_message_id, "delivered")).status_code == 200
    await ctx.settle()
    assert next(m for m in await _messages(ctx) if m.id == message_id).status == "read"



async def test_a_channel_that_posts_no_replies_refuses_one_with_a_reason(client, ctx, wired) -> None:
    harness, fake, channel, headers = wired
    if adapter_class(harness.kind).capabilities.posts_replies:
        pytest.skip(f"{harness.kind} posts replies")
    conversation_id = await _conversation_of_first_inbound(client, ctx, fake, harness, headers)
    refused = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Спасибо за отзыв"}, headers=headers)
    assert refused.status_code == 422 and "cabinet" in refused.text
    assert [m.direction for m in await _messages(ctx)] == ["in"]
