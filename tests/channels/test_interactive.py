"""Interactive choices end to end: each adapter renders them on its provider's real wire (checked
against recorded payloads), a press comes back as a typed answer, channels without the style
get numbered text and a typed number answers it, and content over a channel's limits is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from okno.models import Message
from tests.conftest import LoopbackServer
from tests.factories import admin_headers

FIXTURES = Path(__file__).parent / "fixtures"
CHOICES = {
    "style": "buttons",
    "options": [{"id": "delivery", "title": "Доставка"}, {"id": "refund", "title": "Возврат"}, {"id": "other", "title": "Другое"}],
}


def fixture(kind: str, name: str) -> Any:
    return orjson.loads((FIXTURES / kind / name).read_bytes())


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _wire(client, ctx, fake, kind: str):  # noqa: ANN001, ANN202
    headers = await admin_headers(ctx, client)
    created = await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": fake.channel_config()}, headers=headers)
    assert created.status_code == 201, created.text
    fake.connect(client, f"/webhooks/{created.json()['id']}")
    return created.json(), headers


async def _ask(client, ctx, conversation_id: int, headers, interactive: dict, text: str = "С чем помочь?") -> Message:  # noqa: ANN001
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "interactive": interactive}, headers=headers)
    assert response.status_code == 201, response.text
    await ctx.settle()
    message = next(m for m in await _messages(ctx) if m.id == response.json()["id"])
    assert message.status == "sent", message.error
    return message


async def _first_conversation(ctx, fake, user: str) -> int:  # noqa: ANN001
    assert (await fake.deliver_text(user, "Здравствуйте")).status_code == 200
    await ctx.settle()
    return (await _messages(ctx))[0].conversation_id


# ---- Telegram ------------------------------------------------------------------------------


@pytest.fixture
async def telegram(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.telegram.fake import FakeTelegram

    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        channel, headers = await _wire(client, ctx, fake, "telegram")
        yield fake, channel, headers


async def test_a_telegram_customer_taps_an_inline_button_and_the_answer_arrives_typed(client, ctx, telegram) -> None:
    fake, channel, headers = telegram
    conversation_id = await _first_conversation(ctx, fake, "700000001")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "header": "Поддержка"})
    sent = fake.calls[-1]
    assert {k: v for k, v in sent.items() if k != "chat_id"} == fixture("telegram", "interactive_send_message.json")

    response = await fake.deliver_button_press("700000001", int(prompt.provider_message_id), "refund")
    assert response.status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.direction, answer.text, answer.conversation_id) == ("answer", "in", "Возврат", conversation_id)
    assert answer.content == {"answer": {"option_id": "refund", "title": "Возврат", "in_reply_to": prompt.provider_message_id, "message_id": prompt.id}}
    # answered in the webhook's own reply: the client stops spinning, no request of okno's
    assert [a["callback_query_id"] for a in fake.answered_callbacks] == [fake.calls[-1]["callback_query_id"]]
    listed = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json()["items"]
    assert listed[-1]["kind"] == "answer" and listed[-1]["content"]["answer"]["option_id"] == "refund"
    assert listed[-2]["content"]["rendering"] == "buttons"

    again = await fake.redeliver_last()  # Telegram's retry of the same update: one answer only
    assert again.status_code == 200
    await ctx.settle()
    assert [m.kind for m in await _messages(ctx)] == ["message", "message", "answer"]
