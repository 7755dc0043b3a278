"""Files, interactive choices, templates and actors together: what the merged slices combine."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from okno.channels.adapters.max.fake import FakeMax
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.vk.fake import FakeVk
from okno.models import Message, TimelineEvent
from tests.files.helpers import channel_with_fake, conversation_of, send_files, tiny_pdf, tiny_png

CHOICES = {
    "style": "buttons",
    "options": [{"id": "yes", "title": "Да, верно"}, {"id": "no", "title": "Нет, ошибка"}],
}


async def test_telegram_sends_the_files_first_then_the_question_with_its_buttons(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000021", "пришлите счёт")
    conversation = await conversation_of(client, headers, ctx)
    sent = await send_files(
        client, headers, conversation["id"], [("счёт.pdf", tiny_pdf(), "application/pdf")], text="Счёт верный?",
        interactive=orjson.dumps(CHOICES).decode(),
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["content"]["interactive"]["options"][0]["id"] == "yes" and len(message["attachments"]) == 1
    await ctx.settle()
    assert [c["method"] for c in fake.calls] == ["sendDocument", "sendMessage"]
    assert fake.uploads[0]["caption"] == "" and fake.uploads[0]["content"] == tiny_pdf()
    question = fake.sent[-1]
    assert question["text"] == "Счёт верный?"
    assert [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row] == ["Да, верно", "Нет, ошибка"]
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"][-1]
    assert after["status"] == "sent" and after["provider_message_id"] == str(question["message_id"])  # answers attach to the question


async def test_max_attaches_the_uploaded_file_and_the_keyboard_to_one_message(client, ctx, served) -> None:
    fake = await served(FakeMax())
    _, headers = await channel_with_fake(client, ctx, "max", fake)
    await fake.deliver_text("900000021", "фото?")
    conversation = await conversation_of(client, headers, ctx)
    sent = await send_files(
        client, headers, conversation["id"], [("qr.png", tiny_png(), "image/png")], text="Подходит?", interactive=orjson.dumps(CHOICES).decode()
    )
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    body = fake.calls[-1]["body"]
    assert body["text"] == "Подходит?" and [a["type"] for a in body["attachments"]] == ["image", "inline_keyboard"]
    assert body["attachments"][0]["payload"]["token"] == fake.uploads[0]["token"]
    assert [b["payload"] for row in body["attachments"][1]["payload"]["buttons"] for b in row] == ["yes", "no"]


async def test_vk_sends_attachment_and_keyboard_on_the_last_part(client, ctx, served) -> None:
    fake = await served(FakeVk())
    _, headers = await channel_with_fake(client, ctx, "vk", fake)
    await fake.deliver_text("500021", "документ?")
    conversation = await conversation_of(client, headers, ctx)
    sent = await send_files(
        client, headers, conversation["id"], [("акт.pdf", tiny_pdf(), "application/pdf")], text="Подписываете?",
        interactive=orjson.dumps(CHOICES).decode(),
    )
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    last = fake.sent[-1]
    assert last["message"] == "Подписываете?" and [a["filename"] for a in last["attachments"]] == ["акт.pdf"]
    assert [b["action"]["label"] for row in last["keyboard"]["buttons"] for b in row] == ["Да, верно", "Нет, ошибка"]


async def test_what_a_message_may_not_combine_gets_a_clear_422(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000022", "?")
    conversation = await conversation_of(client, headers, ctx)
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    no_question = await send_files(client, headers, conversation["id"], [("a.pdf", tiny_pdf(), "application/pdf")], interactive=orjson.dumps(CHOICES).decode())
    assert no_question.status_code == 422 and "choices need a question" in no_question.json()["detail"]
    templated = await client.post(url, json={"template": {"name": "x"}, "interactive": CHOICES}, headers=headers)
    assert templated.status_code == 422 and "a template can't offer choices" in templated.json()["detail"]
    bad_json = await send_files(client, headers, conversation["id"], [("a.pdf", tiny_pdf(), "application/pdf")], text="?", interactive="{nope")
    assert bad_json.status_code == 422 and "interactive must be JSON" in bad_json.json()["detail"]
    note = await client.post(url, json={"text": "?", "internal": True, "interactive": CHOICES}, headers=headers)
    assert note.status_code == 422 and "internal note can't offer choices" in note.json()["detail"]


async def test_starting_a_conversation_records_the_operator_and_may_offer_choices(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    channel, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000023", "спасибо")
    old = await conversation_of(client, headers, ctx)
    assert (await client.post(f"/api/v1/conversations/{old['id']}/status", json={"status": "resolved"}, headers=headers)).status_code == 200
    start = {"customer_id": old["customer_id"], "channel_id": channel["id"], "text": "Оцените нас?", "interactive": CHOICES}
    started = await client.post("/api/v1/conversations", json=start, headers=headers)
    assert started.status_code == 201, started.text
    message, new = started.json()["message"], started.json()["conversation"]
    assert message["actor"]["type"] == "operator" and message["content"]["interactive"]["style"] == "buttons"
    async with ctx.db.reading() as session:
        stored = await session.get(Message, message["id"])
        kinds = (await session.execute(
            select(TimelineEvent.kind, TimelineEvent.actor_type).where(TimelineEvent.conversation_id == new["id"]).order_by(TimelineEvent.id)
        )).all()
    assert stored.actor_type == "operator"
    assert [tuple(k) for k in kinds] == [("conversation.opened", "operator"), ("message.queued", "operator")]
    await ctx.settle()
    assert fake.sent[-1]["text"] == "Оцените нас?" and "reply_markup" in fake.sent[-1]
