"""Recorded provider payloads for Telegram, the API channel and the website widget, fed through the
real adapter over HTTP (WhatsApp, VK and MAX feed theirs in their own test files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.models import InboundItem, Message
from tests.channels.widget_visitor import FakeVisitor
from tests.conftest import LoopbackServer
from tests.factories import admin_headers, make_api_channel, signed

HERE = Path(__file__).parent


def _load(folder: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


TELEGRAM = _load(HERE / "fixtures" / "telegram")
API = _load(HERE / "fixtures" / "api")
WIDGET = _load(HERE / "fixtures" / "widget")


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _stored_items(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(InboundItem))


async def _customer(client: httpx.AsyncClient, headers: dict[str, str], identity: str) -> dict | None:
    found = (await client.get("/api/v1/customers", params={"identity": identity}, headers=headers)).json()["items"]
    return found[0] if found else None


def _identities(customer: dict) -> set[tuple[str, str]]:
    return {(i["kind"], i["value"]) for i in customer["identities"]}


# ---- Telegram Bot API updates ----------------------------------------------------------------


@pytest.fixture
async def telegram(client, ctx):  # noqa: ANN001, ANN201
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": "telegram", "name": "Бот", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        yield fake, headers


async def test_telegram_text_update(client, ctx, telegram) -> None:
    fake, headers = telegram
    response = await fake.deliver_update(TELEGRAM["text"])
    assert response.status_code == 200, response.text
    assert (await fake.redeliver_last()).status_code == 200  # Telegram retries until it gets a 2xx
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.text == TELEGRAM["text"]["message"]["text"] and message.direction == "in"
    assert message.provider_message_id == "1184" and message.attachments == []
    customer = await _customer(client, headers, "telegram:384729105")
    assert customer["id"] == message.customer_id and customer["name"] == "Иван Петров"
    assert _identities(customer) == {("telegram", "384729105")}


async def test_telegram_photo_with_caption_keeps_the_largest_size_and_downloads_it(client, ctx, telegram) -> None:
    fake, headers = telegram
    update = TELEGRAM["photo_caption"]
    largest = update["message"]["photo"][-1]
    jpeg = b"\xff\xd8\xff\xe0recorded-photo"
    fake.files[largest["file_id"]] = ("photos/file_12.jpg", jpeg)
    assert (await fake.deliver_update(update)).status_code == 200
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.text == "Вот так пришла коробка 📦"
    [image] = message.attachments
    assert (image["kind"], image["file_id"], image["width"], image["height"], image["size"]) == ("image", largest["file_id"], 1280, 960, 131552)
    download = await client.get(f"/api/v1/messages/{message.id}/attachments/0", headers=headers)
    assert download.status_code == 200 and download.content == jpeg and download.headers["content-type"] == "image/jpeg"


async def test_telegram_own_shared_contact_becomes_the_customers_phone(client, ctx, telegram) -> None:
    fake, headers = telegram
    assert (await fake.deliver_update(TELEGRAM["own_contact"])).status_code == 200
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.text == "" and message.attachments == [{"kind": "contact", "phone": "79161234567", "name": "Иван", "own": True}]
    customer = await _customer(client, headers, "phone:+79161234567")  # sent as "79161234567", without the plus
    assert customer["id"] == message.customer_id
    assert _identities(customer) == {("telegram", "384729105"), ("phone", "+79161234567")}


async def test_telegram_someone_elses_contact_is_only_an_attachment(client, ctx, telegram) -> None:
    fake, headers = telegram
    assert (await fake.deliver_update(TELEGRAM["other_contact"])).status_code == 200
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.attachments == [{"kind": "contact", "phone": "+79035550101", "name": "Мария"}]
    assert await _customer(client, headers, "phone:+79035550101") is None


async def test_telegram_edited_message_is_acknowledged_and_changes_nothing(client, ctx, telegram) -> None:
    fake, _ = telegram
    assert (await fake.deliver_update(TELEGRAM["text"])).status_code == 200
    edited = await fake.deliver_update(TELEGRAM["edited_message"])
    assert edited.status_code == 200  # anything but 2xx makes Telegram redeliver the update for a day
    await ctx.settle()
    assert [m.text for m in await _messages(ctx)] == [TELEGRAM["text"]["message"]["text"]]
    assert await _stored_items(ctx) == 1


async def test_telegram_update_without_the_secret_token_is_refused(ctx, telegram) -> None:
    fake, _ = telegram
    assert (await fake.deliver_update(TELEGRAM["text"], secret="guessed")).status_code == 403
    assert await _stored_items(ctx) == 0


# ---- the API channel's documented inbound body -------------------------------------------------


@pytest.fixture
async def api_channel(client, ctx):  # noqa: ANN001, ANN201
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    return channel, headers


async def _post(client: httpx.AsyncClient, channel: dict, payload: dict, *, secret: str | None = None) -> httpx.Response:
    body, signature = signed(secret or channel["secret"], payload)
    return await client.post(f"/webhooks/{channel['id']}", content=body, headers=signature)


async def test_api_message_from_a_phone(client, ctx, api_channel) -> None:
    channel, headers = api_channel
    response = await _post(client, channel, API["text_phone"])
    assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
    assert (await _post(client, channel, API["text_phone"])).json() == {"accepted": 0, "duplicates": 1}
    await ctx.settle()
    [message] = await _messages(ctx)
    assert (message.text, message.provider_message_id) == ("Здравствуйте!", "crm-1")
    customer = await _customer(client, headers, "phone:8 (916) 123-45-67")
    assert customer["name"] == "Анна" and _identities(customer) == {("phone", "+79161234567")}


async def test_api_crm_contact_with_every_identity(client, ctx, api_channel) -> None:
    channel, headers = api_channel
    assert (await _post(client, channel, API["crm_contact"])).status_code == 200
    await ctx.settle()
    customer = await _customer(client, headers, f"external:{channel['id']}:contact-58213")
    assert customer["name"] == "Мария Сидорова"
    assert _identities(customer) == {
        ("external", f"{channel['id']}:contact-58213"),
        ("phone", "+79035550101"),
        ("email", "maria.sidorova@example.ru"),
    }


async def test_api_attachments_are_kept_as_sent(client, ctx, api_channel) -> None:
    channel, _ = api_channel
    assert (await _post(client, channel, API["attachments"])).status_code == 200
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.text == "Счёт во вложении, оплатил вчера"
    assert message.attachments == API["attachments"]["attachments"]


async def test_api_body_signed_with_another_secret_is_refused(client, ctx, api_channel) -> None:
    channel, _ = api_channel
    response = await _post(client, channel, API["text_phone"], secret="someone-elses-secret-123")
    assert response.status_code == 401 and "X-Okno-Signature" in response.json()["detail"]
    assert await _stored_items(ctx) == 0


# ---- the website widget's visitor frames ------------------------------------------------------


@pytest.fixture
async def visitor(app, client, ctx):  # noqa: ANN001, ANN201
    fake = FakeVisitor()
    headers = await admin_headers(ctx, client)
    created = await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": fake.channel_config()}, headers=headers)
    assert created.status_code == 201, created.text
    async with LoopbackServer(app) as server:
        fake.okno_url = server.url
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        yield fake, headers


async def test_widget_message_frame_lands_with_its_page_context(client, ctx, visitor) -> None:
    fake, headers = visitor
    frame = WIDGET["message"]
    response = await fake.deliver_frame("v_recorded000001", frame)
    assert response.status_code == 200, response.text
    assert [r for r in response.json()["replies"] if r["type"] == "ack"] == [{"type": "ack", "client_id": frame["client_id"], "seq": 1}]
    await ctx.settle()
    [message] = await _messages(ctx)
    assert message.text == "Есть доставка в Казань?"
    customer = await _customer(client, headers, "web:v_recorded000001")
    timeline = (await client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=headers)).json()["items"]
    received = next(e for e in timeline if e["kind"] == "message.received")
    assert received["data"]["context"] == {"widget": {"page_url": frame["page_url"], "utm": frame["utm"]}}


async def test_widget_contact_frame_keeps_phone_and_email_as_evidence(client, ctx, visitor) -> None:
    fake, headers = visitor
    assert (await fake.deliver_frame("v_recorded000002", WIDGET["contact"])).status_code == 200
    await ctx.settle()
    assert (await client.get("/api/v1/customers", params={"identity": "email:anna@example.ru"}, headers=headers)).json()["items"] == []
    customer = await _customer(client, headers, "web:v_recorded000002")
    assert customer["name"] == "Анна"
    assert _identities(customer) == {("web", "v_recorded000002")}  # typed keys prove nothing (docs/identity-proof.md)
