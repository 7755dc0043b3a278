"""okno writes first (POST /api/v1/conversations) where a channel allows it, and WhatsApp
templates reach customers silent for more than 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.kit.time import utcnow
from okno.models import Conversation, Message
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.files.helpers import channel_with_fake, conversation_of

TEMPLATES = [
    {"name": "order_ready", "language": "ru", "body_parameters": 2, "preview": "Здравствуйте, {{1}}! Заказ {{2}} готов к выдаче."},
    {"name": "hello_again", "language": "ru", "body_parameters": 0, "preview": "Мы ответили на ваш вопрос: напишите нам, если остались вопросы."},
]


async def _silent_for(ctx, conversation_id: int, days: float) -> None:
    """The customer's messages happened ``days`` ago (nothing since)."""
    past = utcnow() - timedelta(days=days)
    async with ctx.db.transaction() as session:
        await session.execute(update(Message).where(Message.conversation_id == conversation_id).values(created_at=past))
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(created_at=past, last_inbound_at=past, last_message_at=past))


@pytest.fixture
async def whatsapp(client, ctx, served):
    fake = await served(FakeWhatsApp())
    fake.templates = {("order_ready", "ru"): 2}  # approved at Meta; hello_again is not
    original = fake.channel_config
    fake.channel_config = lambda: original() | {"templates": TEMPLATES}  # type: ignore[method-assign]
    channel, headers = await channel_with_fake(client, ctx, "whatsapp", fake)
    await fake.deliver_text("79160000011", "Когда будет готов заказ?", name="Анна")
    conversation = await conversation_of(client, headers, ctx)
    await _silent_for(ctx, conversation["id"], days=2)
    return fake, channel, headers, conversation


async def test_a_template_reaches_a_customer_silent_for_two_days(client, ctx, whatsapp) -> None:
    fake, channel, headers, conversation = whatsapp
    sent = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"template": {"name": "order_ready", "parameters": ["Анна", "A-42"]}, "channel_id": channel["id"]}, headers=headers,
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["text"] == "Здравствуйте, Анна! Заказ A-42 готов к выдаче."
    assert message["content"] == {"template": {"name": "order_ready", "language": "ru", "parameters": ["Анна", "A-42"]}}
    await ctx.settle()
    body = fake.sent[-1]["body"]
    assert body["type"] == "template" and body["to"] == "79160000011"
    assert body["template"] == {
        "name": "order_ready", "language": {"code": "ru"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Анна"}, {"type": "text", "text": "A-42"}]}],
    }
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"][-1]
    assert after["status"] == "sent" and after["provider_message_id"] == fake.sent[-1]["id"]


async def test_free_text_outside_the_window_is_refused_before_anything_is_queued(client, ctx, whatsapp) -> None:
    fake, channel, headers, conversation = whatsapp
    before = len(fake.sent)
    refused = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Заказ готов", "channel_id": channel["id"]}, headers=headers
    )
    assert refused.status_code == 422, refused.text
    assert "24 hours" in refused.json()["detail"] and "send a template" in refused.json()["detail"]
    messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
    assert [m["direction"] for m in messages] == ["in"]  # nothing queued
    await ctx.settle()
    assert len(fake.sent) == before
    # a note is no reply: it stays possible
    note = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "позвонить клиенту", "internal": True}, headers=headers
    )
    assert note.status_code == 201, note.text


async def test_free_text_inside_the_window_goes_out(client, ctx, whatsapp) -> None:
    fake, channel, headers, conversation = whatsapp
    await fake.deliver_text("79160000011", "Вы тут?", name="Анна")  # the customer writes again: the window reopens
    await ctx.settle()
    sent = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Да, заказ готов", "channel_id": channel["id"]}, headers=headers
    )
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    assert fake.sent[-1]["body"]["text"]["body"] == "Да, заказ готов"


async def test_a_template_meta_does_not_know_fails_with_the_providers_reason(client, ctx, whatsapp) -> None:
    fake, _, headers, conversation = whatsapp
    sent = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"template": {"name": "hello_again"}}, headers=headers)
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"][-1]
    assert after["status"] == "failed" and "132001" in after["error"] and "does not exist" in after["error"]
    assert fake.sent == []


async def test_bad_template_requests_get_clear_422s(client, ctx, whatsapp) -> None:
    _, _, headers, conversation = whatsapp
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    unknown = await client.post(url, json={"template": {"name": "nope"}}, headers=headers)
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"] and "order_ready (ru)" in unknown.json()["detail"]
    count = await client.post(url, json={"template": {"name": "order_ready", "parameters": ["Анна"]}}, headers=headers)
    assert count.status_code == 422 and "needs 2" in count.json()["detail"]
    both = await client.post(url, json={"text": "привет", "template": {"name": "hello_again"}}, headers=headers)
    assert both.status_code == 422 and "either text or a template" in both.json()["detail"]


async def test_starting_on_whatsapp_needs_a_template_outside_the_window(client, ctx, whatsapp) -> None:
    _, channel, headers, conversation = whatsapp
    resolved = await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "resolved"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    start = {"customer_id": conversation["customer_id"], "channel_id": channel["id"]}
    free_text = await client.post("/api/v1/conversations", json=start | {"text": "Ваш заказ готов"}, headers=headers)
    assert free_text.status_code == 422 and "24 hours" in free_text.json()["detail"] and "template" in free_text.json()["detail"]
    started = await client.post("/api/v1/conversations", json=start | {"template": {"name": "order_ready", "parameters": ["Анна", "A-43"]}}, headers=headers)
    assert started.status_code == 201, started.text
    assert started.json()["conversation"]["id"] != conversation["id"] and started.json()["message"]["status"] == "queued"


async def test_an_operator_starts_a_new_conversation_in_vk(client, ctx, served) -> None:
    fake = await served(FakeVk())
    channel, headers = await channel_with_fake(client, ctx, "vk", fake)
    await fake.deliver_text("500011", "Спасибо, вопрос решён")
    old = await conversation_of(client, headers, ctx)
    start = {"customer_id": old["customer_id"], "channel_id": channel["id"], "text": "Здравствуйте! Ваш заказ приехал в пункт выдачи."}
    busy = await client.post("/api/v1/conversations", json=start, headers=headers)
    assert busy.status_code == 409 and str(old["id"]) in busy.json()["detail"]
    assert (await client.post(f"/api/v1/conversations/{old['id']}/status", json={"status": "resolved"}, headers=headers)).status_code == 200
    started = await client.post("/api/v1/conversations", json=start, headers=headers)
    assert started.status_code == 201, started.text
    new = started.json()["conversation"]
    assert new["id"] != old["id"] and new["status"] == "open" and new["channel_id"] == channel["id"]
    await ctx.settle()
    assert fake.sent[-1]["peer_id"] == 500011 and fake.sent[-1]["message"] == start["text"]
    timeline = (await client.get(f"/api/v1/customers/{old['customer_id']}/timeline", headers=headers)).json()["items"]
    assert "conversation.opened" in [e["kind"] for e in timeline if e.get("conversation_id") == new["id"]]
    await fake.deliver_text("500011", "Отлично, спасибо!")  # the customer's answer threads into the new conversation
    await ctx.settle()
    messages = (await client.get(f"/api/v1/conversations/{new['id']}/messages", headers=headers)).json()["items"]
    assert [m["direction"] for m in messages] == ["out", "in"]


async def test_the_widget_cant_start_a_conversation_and_a_customer_needs_an_address(client, ctx, served) -> None:
    headers = await admin_headers(ctx, client)
    widget = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": ["*"]}}, headers=headers)).json()
    fake = await served(FakeVk())
    vk, _ = await channel_with_fake(client, ctx, "vk", fake)
    api = await make_api_channel(client, headers)
    await post_inbound(client, api, {"message_id": "m-1", "from": {"phone": "+79161112233", "name": "Пётр"}, "text": "?"})
    await ctx.settle()
    customer_id = (await client.get("/api/v1/customers", params={"identity": "phone:+79161112233"}, headers=headers)).json()["items"][0]["id"]
    refused = await client.post("/api/v1/conversations", json={"customer_id": customer_id, "channel_id": widget["id"], "text": "Добрый день"}, headers=headers)
    assert refused.status_code == 422 and "a widget channel can't start a conversation" in refused.json()["detail"]
    no_vk = await client.post("/api/v1/conversations", json={"customer_id": customer_id, "channel_id": vk["id"], "text": "Добрый день"}, headers=headers)
    assert no_vk.status_code == 422 and "no identity a vk channel can write to" in no_vk.json()["detail"]
    missing = await client.post("/api/v1/conversations", json={"customer_id": 999999, "channel_id": vk["id"], "text": "?"}, headers=headers)
    assert missing.status_code == 404
