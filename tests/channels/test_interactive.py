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
    return orjson.loads((FIXTURES / kind / "interactive" / name).read_bytes())


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
    fake, _, headers = telegram
    conversation_id = await _first_conversation(ctx, fake, "700000001")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "header": "Поддержка"})
    sent = fake.calls[-1]
    assert {k: v for k, v in sent.items() if k != "chat_id"} == fixture("telegram", "send_message.json")

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


# ---- WhatsApp ------------------------------------------------------------------------------


@pytest.fixture
async def whatsapp(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.whatsapp.fake import FakeWhatsApp

    fake = FakeWhatsApp()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        channel, headers = await _wire(client, ctx, fake, "whatsapp")
        yield fake, channel, headers


async def test_whatsapp_reply_buttons_and_a_button_reply(client, ctx, whatsapp) -> None:
    fake, _, headers = whatsapp
    conversation_id = await _first_conversation(ctx, fake, "79160000001")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "header": "Поддержка", "footer": "Ответим за 5 минут"})
    assert fake.sent[-1]["body"] == fixture("whatsapp", "button_send.json")

    assert (await fake.deliver_reply("79160000001", prompt.provider_message_id, "button_reply", {"id": "other", "title": "Другое"})).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.text, answer.conversation_id) == ("answer", "Другое", conversation_id)
    assert answer.content["answer"] == {"option_id": "other", "title": "Другое", "in_reply_to": prompt.provider_message_id, "message_id": prompt.id}


async def test_whatsapp_list_and_a_list_reply(client, ctx, whatsapp) -> None:
    fake, _, headers = whatsapp
    conversation_id = await _first_conversation(ctx, fake, "79160000002")
    menu = {
        "style": "list", "button": "Выбрать",
        "options": [
            {"id": "courier", "title": "Курьер", "description": "Завтра с 10 до 18"},
            {"id": "pickup", "title": "Самовывоз", "description": "Сегодня, ул. Ленина 1"},
        ],
    }
    prompt = await _ask(client, ctx, conversation_id, headers, menu, text="Как доставить заказ?")
    assert fake.sent[-1]["body"] == fixture("whatsapp", "list_send.json")

    reply = {"id": "pickup", "title": "Самовывоз", "description": "Сегодня, ул. Ленина 1"}
    assert (await fake.deliver_reply("79160000002", prompt.provider_message_id, "list_reply", reply)).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert answer.kind == "answer" and answer.content["answer"]["option_id"] == "pickup" and answer.content["answer"]["message_id"] == prompt.id


async def test_over_a_channels_limits_is_refused_with_the_reason(client, ctx, whatsapp) -> None:
    fake, _, headers = whatsapp
    conversation_id = await _first_conversation(ctx, fake, "79160000003")
    four = {"style": "buttons", "options": [{"id": f"o{n}", "title": f"Вариант {n}"} for n in range(4)]}
    refused = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "?", "interactive": four}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "WhatsApp shows at most 3 options as buttons (4 given)"
    long_title = {"style": "buttons", "options": [{"id": "a", "title": "Очень длинное название кнопки"}]}
    refused = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "?", "interactive": long_title}, headers=headers)
    assert refused.status_code == 422 and "at most 20 characters" in refused.json()["detail"]
    assert [m.direction for m in await _messages(ctx)] == ["in"]  # nothing queued
    assert fake.calls == []


# ---- VK ------------------------------------------------------------------------------------


@pytest.fixture
async def vk(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.vk.fake import FakeVk

    fake = FakeVk()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        channel, headers = await _wire(client, ctx, fake, "vk")
        yield fake, channel, headers


def _vk_form(fake, prompt: Message) -> dict[str, Any]:  # noqa: ANN001
    """What messages.send received, the volatile parts (token, peer, random_id) left out and the
    okno message id in each payload checked and replaced by a placeholder."""
    call = fake.calls[-1]
    form = {k: v for k, v in call.items() if k not in ("access_token", "peer_id", "random_id")}
    keyboard = orjson.loads(form.pop("keyboard"))
    for row in keyboard["buttons"]:
        for button in row:
            payload = orjson.loads(button["action"]["payload"])
            assert payload["m"] == prompt.id
            button["action"]["payload"] = orjson.dumps(payload | {"m": "<message_id>"}).decode()
    return form | {"keyboard": keyboard}


async def test_vk_inline_keyboard_and_a_press_with_our_payload(client, ctx, vk) -> None:
    fake, _, headers = vk
    conversation_id = await _first_conversation(ctx, fake, "500001")
    prompt = await _ask(client, ctx, conversation_id, headers, CHOICES)
    assert _vk_form(fake, prompt) == fixture("vk", "send_inline.json")

    assert (await fake.deliver_button_press("500001", int(prompt.provider_message_id), "Доставка")).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.text, answer.conversation_id) == ("answer", "Доставка", conversation_id)
    assert answer.content["answer"] == {"option_id": "delivery", "title": "Доставка", "in_reply_to": prompt.provider_message_id, "message_id": prompt.id}


async def test_vk_quick_replies_are_a_one_time_keyboard(client, ctx, vk) -> None:
    fake, _, headers = vk
    conversation_id = await _first_conversation(ctx, fake, "500002")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "style": "quick_replies"})
    assert _vk_form(fake, prompt) == fixture("vk", "send_one_time.json")


# ---- MAX -----------------------------------------------------------------------------------


@pytest.fixture
async def max_bot(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.max.fake import FakeMax

    fake = FakeMax()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        channel, headers = await _wire(client, ctx, fake, "max")
        yield fake, channel, headers


async def test_max_inline_keyboard_and_a_message_callback(client, ctx, max_bot) -> None:
    from okno.channels.acknowledge import acknowledgements_done

    fake, _, headers = max_bot
    conversation_id = await _first_conversation(ctx, fake, "900000001")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "footer": "Нажмите кнопку"})
    assert fake.calls[-1]["body"] == fixture("max", "send.json")

    assert (await fake.deliver_button_press("900000001", prompt.provider_message_id, "refund")).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.text, answer.conversation_id) == ("answer", "Возврат", conversation_id)
    assert answer.content["answer"] == {"option_id": "refund", "title": "Возврат", "in_reply_to": prompt.provider_message_id, "message_id": prompt.id}
    await acknowledgements_done()  # POST /answers, after the press was stored
    assert [(a["notification"], a["callback_id"] in fake.calls[-1]["query"]["callback_id"]) for a in fake.answered_callbacks] == [("✓ Возврат", True)]


# ---- the numbered-text fallback ------------------------------------------------------------


@pytest.fixture
async def api_channel(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.api.fake import FakeApiReceiver

    receiver = FakeApiReceiver()
    secret = "integration-secret-0123456789"
    receiver.add_box("crm", secret)
    async with LoopbackServer(receiver.app) as server:
        headers = await admin_headers(ctx, client)
        config = {"secret": secret, "outbound_url": f"{server.url}/boxes/crm/messages"}
        channel = (await client.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config}, headers=headers)).json()
        yield receiver, channel, secret, headers


async def _api_inbound(client, channel: dict, secret: str, message_id: str, text: str) -> None:  # noqa: ANN001
    from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign

    body = orjson.dumps({"message_id": message_id, "from": {"external_id": "crm-42", "name": "Анна"}, "text": text})
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers={"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)})
    assert response.status_code == 200, response.text


async def test_a_channel_without_choices_gets_numbered_text_and_a_typed_number_answers(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    await _api_inbound(client, channel, secret, "in-1", "Здравствуйте")
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "header": "Поддержка", "footer": "Ответьте цифрой"})
    assert prompt.content["rendering"] == "text" and prompt.text == "С чем помочь?"  # the operator's text is kept as written
    delivered = receiver.boxes["crm"].deliveries
    [sent] = [d["body"] for d in delivered.values()]
    assert {k: sent[k] for k in ("text", "attachments")} == fixture("api", "fallback.json")

    await _api_inbound(client, channel, secret, "in-2", " 2. ")
    await _api_inbound(client, channel, secret, "in-3", "7")  # no option 7: an ordinary message
    await ctx.settle()
    answer, other = (await _messages(ctx))[-2:]
    assert (answer.kind, answer.text) == ("answer", " 2. ")
    assert answer.content == {"answer": {"option_id": "refund", "title": "Возврат", "message_id": prompt.id}}
    assert (other.kind, other.content) == ("message", None)

    # once the operator has written something else, a number is just a number
    assert (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Уточните номер заказа"}, headers=headers)).status_code == 201
    await ctx.settle()
    await _api_inbound(client, channel, secret, "in-4", "1")
    await ctx.settle()
    assert (await _messages(ctx))[-1].kind == "message"


async def test_telegram_shows_a_list_as_numbered_text(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    conversation_id = await _first_conversation(ctx, fake, "700000002")
    menu = {"style": "list", "button": "Выбрать", "options": [{"id": "courier", "title": "Курьер", "description": "Завтра"}, {"id": "pickup", "title": "Самовывоз"}]}
    prompt = await _ask(client, ctx, conversation_id, headers, menu, text="Как доставить?")
    assert prompt.content["rendering"] == "text"
    assert fake.calls[-1] == {"method": "sendMessage", "chat_id": 700000002, "text": "Как доставить?\n\n1. Курьер — Завтра\n2. Самовывоз"}
    assert (await fake.deliver_text("700000002", "1")).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert answer.kind == "answer" and answer.content["answer"] == {"option_id": "courier", "title": "Курьер", "message_id": prompt.id}


async def test_quick_replies_become_buttons_where_a_channel_has_no_quick_replies(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    conversation_id = await _first_conversation(ctx, fake, "700000003")
    prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "style": "quick_replies"})
    assert prompt.content["rendering"] == "buttons"
    assert fake.calls[-1]["reply_markup"] == fixture("telegram", "send_message.json")["reply_markup"]


async def test_bad_choices_are_refused_with_a_clear_422(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    conversation_id = await _first_conversation(ctx, fake, "700000004")
    url = f"/api/v1/conversations/{conversation_id}/messages"
    cases = [
        ({"options": []}, "at least 1"),
        ({"options": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}, "repeated: a"),
        ({"options": [{"id": "has space", "title": "A"}]}, "should match pattern"),
        ({"options": [{"id": "x" * 65, "title": "A"}]}, "should match pattern"),
        ({"options": [{"id": "a", "title": "A", "description": "d"}]}, "lists only"),
        ({"style": "list", "options": [{"id": "a", "title": "A"}]}, "needs 'button'"),
        ({"style": "carousel", "options": [{"id": "a", "title": "A"}]}, "buttons"),
    ]
    for interactive, reason in cases:
        response = await client.post(url, json={"text": "?", "interactive": interactive}, headers=headers)
        assert response.status_code == 422, interactive
        assert reason in str(response.json()["detail"]), (interactive, response.json())
    note = await client.post(url, json={"text": "?", "internal": True, "interactive": CHOICES}, headers=headers)
    assert note.status_code == 422 and "internal note" in note.json()["detail"]
    assert [m.direction for m in await _messages(ctx)] == ["in"]  # nothing was queued
    assert fake.calls == []


# ---- the website widget --------------------------------------------------------------------


async def test_widget_draws_the_choices_and_a_press_over_the_socket_is_an_answer(app, client, ctx) -> None:
    import httpx
    from websockets.asyncio.client import connect

    site = "https://shop.example"
    headers = await admin_headers(ctx, client)
    config = {"allowed_origins": [site], "title": "Поддержка"}
    channel = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": config}, headers=headers)).json()
    async with LoopbackServer(app) as server:
        async with httpx.AsyncClient() as http:
            session = (await http.post(f"{server.url}/widget/{channel['id']}/session", json={}, headers={"origin": site})).json()
        url = f"{server.url.replace('http', 'ws')}/ws/widget/{channel['id']}?token={session['token']}&last_seq=0"
        async with connect(url, origin=site, open_timeout=5) as ws:

            async def frame(kind: str) -> dict:
                while True:
                    got = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                    if got["type"] == kind:
                        return got

            await ws.send(orjson.dumps({"type": "message", "client_id": "c-1", "text": "Здравствуйте"}).decode())
            await frame("ack")
            await ctx.settle()
            conversation_id = (await _messages(ctx))[0].conversation_id
            prompt = await _ask(client, ctx, conversation_id, headers, {**CHOICES, "style": "quick_replies", "footer": "Выберите"})
            pushed = await frame("message")
            while pushed["from"] != "agent":
                pushed = await frame("message")
            assert pushed["message_id"] == prompt.provider_message_id
            shown = {k: v for k, v in pushed.items() if k not in ("seq", "client_id", "message_id")}
            assert shown == fixture("widget", "message_frame.json")

            await ws.send(orjson.dumps({"type": "answer", "client_id": "a-1", "message_id": pushed["message_id"], "option_id": "nope"}).decode())
            assert "no option 'nope'" in (await frame("error"))["detail"]
            await ws.send(orjson.dumps({"type": "answer", "client_id": "a-2", "message_id": "widget:forged", "option_id": "refund"}).decode())
            assert "offered no choices" in (await frame("error"))["detail"]
            await ws.send(orjson.dumps({"type": "answer", "client_id": "a-3", "message_id": pushed["message_id"], "option_id": "refund"}).decode())
            assert (await frame("ack"))["client_id"] == "a-3"
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.text, answer.conversation_id) == ("answer", "Возврат", conversation_id)
    assert answer.content["answer"] == {"option_id": "refund", "title": "Возврат", "in_reply_to": prompt.provider_message_id, "message_id": prompt.id}


async def test_ordinary_messages_cost_the_ingest_batch_no_statement_more(client, ctx, api_channel) -> None:
    from sqlalchemy import event

    _, channel, secret, _ = api_channel
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(ctx.db.writer.sync_engine, "before_cursor_execute", record)
    try:
        await _api_inbound(client, channel, secret, "s-1", "Здравствуйте, где заказ?")
        await _api_inbound(client, channel, secret, "s-2", "42")  # a bare number, but no prompt was ever sent
        await ctx.settle()
    finally:
        event.remove(ctx.db.writer.sync_engine, "before_cursor_execute", record)
    on_messages = [s for s in statements if "messages" in s.lower() and s.lstrip().upper().startswith("SELECT")]
    # the bare number looked for the conversation's latest outbound message once; the plain text never did
    assert sum("max(messages.id)" in s.lower() for s in on_messages) == 1, on_messages
    assert [m.kind for m in await _messages(ctx)] == ["message", "message"]


async def test_a_payload_naming_another_customers_message_is_not_linked_to_it(client, ctx, vk) -> None:
    fake, _, headers = vk
    conversation_id = await _first_conversation(ctx, fake, "500003")
    prompt = await _ask(client, ctx, conversation_id, headers, CHOICES)
    # another VK user sends a message carrying a payload that names the first customer's prompt
    forged = fake.message("500004", "Возврат") | {"payload": orjson.dumps({"okno": "refund", "m": prompt.id}).decode()}
    from okno.channels.adapters.vk.fake import CLIENT_INFO

    assert (await fake.deliver_event(fake.event("message_new", {"message": forged, "client_info": CLIENT_INFO}))).status_code == 200
    await ctx.settle()
    stranger = (await _messages(ctx))[-1]
    assert stranger.customer_id != prompt.customer_id
    assert stranger.kind == "answer" and stranger.content == {"answer": {"option_id": "refund", "title": "Возврат"}}
