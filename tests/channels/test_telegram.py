"""Telegram specifics beyond the shared contract: contacts, media on demand, the fake's wire."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from okno.channels.adapters.telegram.adapter import TelegramChannel
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.base import WebhookRejected, WebhookRequest
from okno.models import Message
from tests.conftest import LoopbackServer
from tests.factories import admin_headers


@pytest.fixture
async def telegram(client, ctx):  # noqa: ANN001, ANN201
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        channel = (await client.post("/api/v1/channels", json={"kind": "telegram", "name": "Бот", "config": fake.channel_config()}, headers=headers)).json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield fake, channel, headers


async def test_own_contact_becomes_a_phone_someone_elses_does_not(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    await fake.deliver_contact("111", "+7 916 123-45-67", own=True)
    await fake.deliver_contact("222", "+7 903 000-00-00", own=False)
    mine = (await client.get("/api/v1/customers", params={"identity": "phone:+79161234567"}, headers=headers)).json()["items"]
    assert [i["kind"] for i in mine[0]["identities"]] == ["telegram", "phone"]
    assert (await client.get("/api/v1/customers", params={"identity": "phone:+79030000000"}, headers=headers)).json()["items"] == []
    async with ctx.db.reading() as session:
        shared = [a for attachments in (await session.scalars(select(Message.attachments).order_by(Message.id))).all() for a in attachments]
    # both are shown as contacts (never as an empty message); only the own one became an identity
    assert shared[0]["kind"] == "contact" and shared[0]["own"] is True and shared[0]["phone"] == "+7 916 123-45-67"
    assert {"kind": "contact", "phone": "+7 903 000-00-00", "name": "Иван"} == shared[1]
    conversation = (await client.get("/api/v1/conversations", params={"customer_id": mine[0]["id"]}, headers=headers)).json()["items"][0]
    page = (await client.get(f"/ui/conversations/{conversation['id']}", headers=headers)).text
    assert "Поделился своим номером:" in page and "+7 916 123-45-67" in page and "сообщение без текста" not in page


async def test_a_photo_is_downloaded_through_getfile_on_demand(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg-bytes"
    assert (await fake.deliver_photo("333", jpeg, caption="вот чек")).status_code == 200
    async with ctx.db.reading() as session:
        message = await session.scalar(select(Message))
    assert message.text == "вот чек" and message.attachments[0]["kind"] == "image"
    download = await client.get(f"/api/v1/messages/{message.id}/attachments/0", headers=headers)
    assert download.status_code == 200 and download.content == jpeg and download.headers["content-type"] == "image/jpeg"
    assert (await client.get(f"/api/v1/messages/{message.id}/attachments/1", headers=headers)).status_code == 404
    fake.files.clear()  # Telegram forgot the file: a clear error, not a crash
    gone = await client.get(f"/api/v1/messages/{message.id}/attachments/0", headers=headers)
    assert gone.status_code == 502 and "getFile failed" in gone.json()["detail"]


def test_secret_token_and_body_checks() -> None:
    adapter = TelegramChannel(1)
    config = TelegramChannel.config_model.model_validate(FakeTelegram().channel_config() | {"api_base": "http://tg"})
    for headers, code in (({}, 401), ({"x-telegram-bot-api-secret-token": "wrong"}, 403)):
        with pytest.raises(WebhookRejected) as refused:
            adapter.handle_webhook(config, WebhookRequest("POST", headers, {}, b'{"update_id": 1}'))
        assert refused.value.status_code == code
    ok = {"x-telegram-bot-api-secret-token": FakeTelegram().secret_token}
    assert adapter.handle_webhook(config, WebhookRequest("POST", ok, {}, b'{"update_id": 5, "edited_message": {}}')).items == []
    with pytest.raises(WebhookRejected) as bad:
        adapter.handle_webhook(config, WebhookRequest("POST", ok, {}, b"{not json"))
    assert bad.value.status_code == 400


async def test_the_fake_accepts_form_encoded_calls_like_the_real_bot_api() -> None:
    fake = FakeTelegram()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url="http://tg") as http:
        response = await http.post(f"/bot{fake.bot_token}/sendMessage", data={"chat_id": "42", "text": "привет"})
    assert response.json()["ok"] is True and fake.sent_texts() == ["привет"]
