"""A phone or e-mail typed into the website chat is evidence, never proof (issue 12): a stranger
who types a customer's phone keeps his own profile, sees nothing of the customer's, and the pair
is offered to operators as a merge suggestion. Everything runs through the real widget WebSocket
and the Telegram fake served on loopback."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.customers.matching import realtime
from okno.models import Customer, Message
from tests.conftest import LoopbackServer
from tests.factories import admin_headers

SITE = "https://shop.example"
VICTIM_PHONE = "+79035550101"
VICTIM_TELEGRAM = "7001"


@pytest.fixture
async def shop(app, client, ctx):  # noqa: ANN001, ANN201
    """A widget channel and a Telegram channel; the victim wrote through Telegram and shared his phone."""
    headers = await admin_headers(ctx, client)
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as tg, LoopbackServer(app) as server:
        fake.base_url = tg.url
        telegram = (await client.post("/api/v1/channels", json={"kind": "telegram", "name": "Бот", "config": fake.channel_config()}, headers=headers)).json()
        fake.connect(client, f"/webhooks/{telegram['id']}")
        widget = (await client.post(
            "/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [SITE]}}, headers=headers,
        )).json()  # fmt: skip
        assert (await fake.deliver_contact(VICTIM_TELEGRAM, "+7 903 555-01-01", first_name="Пётр")).status_code == 200
        assert (await fake.deliver_text(VICTIM_TELEGRAM, "Где мой заказ 5531?", first_name="Пётр")).status_code == 200
        await ctx.settle()
        victim = (await client.get("/api/v1/customers", params={"identity": f"phone:{VICTIM_PHONE}"}, headers=headers)).json()["items"][0]
        yield {"fake": fake, "headers": headers, "widget": widget, "telegram": telegram, "victim": victim, "base": server.url}


async def visitor_session(shop: dict) -> dict:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{shop['base']}/widget/{shop['widget']['id']}/session", json={}, headers={"origin": SITE})
    assert response.status_code == 200, response.text
    return response.json()


def socket(shop: dict, token: str, last_seq: int = 0):  # noqa: ANN201
    ws = shop["base"].replace("http", "ws", 1)
    return connect(f"{ws}/ws/widget/{shop['widget']['id']}?token={token}&last_seq={last_seq}", origin=SITE, open_timeout=5)


async def send(ws, frame: dict) -> None:  # noqa: ANN001
    await ws.send(orjson.dumps(frame).decode())


async def frames_until(ws, kind: str, timeout: float = 5.0) -> list[dict]:  # noqa: ANN001
    """Every frame up to and including the first of ``kind``."""
    seen = []
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        seen.append(frame)
        if frame["type"] == kind:
            return seen


async def conversation_of(client: httpx.AsyncClient, headers: dict, customer_id: int) -> dict:
    items = (await client.get("/api/v1/conversations", params={"customer_id": customer_id}, headers=headers)).json()["items"]
    assert len(items) == 1, items
    return items[0]


async def test_a_stranger_typing_a_customers_phone_gets_nothing_of_that_customer(shop, client, ctx) -> None:
    headers, victim = shop["headers"], shop["victim"]
    victims_conversation = await conversation_of(client, headers, victim["id"])
    stranger = await visitor_session(shop)
    async with socket(shop, stranger["token"]) as ws:
        await send(ws, {"type": "contact", "client_id": "k-1", "name": "Пётр", "phone": "+7 903 555-01-01"})
        await send(ws, {"type": "message", "client_id": "c-1", "text": "Подскажите адрес доставки моего заказа"})
        await frames_until(ws, "ack")
        await frames_until(ws, "ack")
        await ctx.settle()

        # the stranger's touch is his own customer's, in his own conversation
        async with ctx.db.reading() as session:
            texts_of_victim = (await session.scalars(select(Message.text).where(Message.customer_id == victim["id"]))).all()
            strangers = (await client.get("/api/v1/customers", params={"identity": f"web:{stranger['visitor_id']}"}, headers=headers)).json()["items"]
        assert "Подскажите адрес доставки моего заказа" not in texts_of_victim
        assert len(strangers) == 1 and strangers[0]["id"] != victim["id"]
        stranger_customer = strangers[0]
        assert [(i["kind"], i["value"]) for i in stranger_customer["identities"]] == [("web", stranger["visitor_id"])]
        async with ctx.db.reading() as session:
            row = await session.get(Customer, stranger_customer["id"])
            assert row.attributes["unverified_identities"] == [f"phone:{VICTIM_PHONE}"]
        victim_now = (await client.get(f"/api/v1/customers/{victim['id']}", headers=headers)).json()
        assert {(i["kind"], i["value"]) for i in victim_now["identities"]} == {("telegram", VICTIM_TELEGRAM), ("phone", VICTIM_PHONE)}

        # the operators' queue offers the pair, with the typed key as the evidence
        queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
        offered = [s for s in queue if (s["customer_id"], s["other_customer_id"]) == (stranger_customer["id"], victim["id"])]
        assert len(offered) == 1
        assert offered[0]["contributions"][0] == {"field": "unverified_key", "comparison": "typed, not proven", "weight": 0.0, "evidence": f"phone:{VICTIM_PHONE}"}

        # the operator answers the victim: it goes to the victim's Telegram, never to the stranger's socket
        reply = await client.post(
            f"/api/v1/conversations/{victims_conversation['id']}/messages", json={"text": "Заказ 5531 едет на Ленина, 1"}, headers=headers
        )
        assert reply.status_code == 201, reply.text
        await ctx.settle()
        assert "Заказ 5531 едет на Ленина, 1" in shop["fake"].sent_texts()
        await send(ws, {"type": "ping"})
        live = await frames_until(ws, "pong")
    assert [f for f in live if f["type"] == "message" and f["from"] == "agent"] == []
    async with socket(shop, stranger["token"]) as ws:  # a fresh tab replays the whole stream
        await send(ws, {"type": "ping"})
        replayed = await frames_until(ws, "pong")
    assert [f.get("text") for f in replayed if f["type"] == "message"] == [None, "Подскажите адрес доставки моего заказа"]
    assert all(f["from"] == "visitor" for f in replayed if f["type"] == "message")


async def test_a_claimed_key_is_never_merged_automatically(shop, client, ctx, monkeypatch) -> None:
    headers, victim = shop["headers"], shop["victim"]
    monkeypatch.setattr(realtime, "MODEL_SECONDS", 0.0)  # the relay's reader sees the new thresholds at once
    changed = await client.put("/api/v1/matcher", json={"review_threshold": 0.01, "auto_threshold": 0.02}, headers=headers)
    assert changed.status_code == 200, changed.text
    stranger = await visitor_session(shop)
    async with socket(shop, stranger["token"]) as ws:  # the contact is the visitor's first touch: customer.created runs the matcher
        await send(ws, {"type": "contact", "client_id": "k-1", "name": "Пётр", "phone": "+7 903 555-01-01"})
        await frames_until(ws, "ack")
    await ctx.settle()
    strangers = (await client.get("/api/v1/customers", params={"identity": f"web:{stranger['visitor_id']}"}, headers=headers)).json()["items"]
    assert strangers[0]["id"] != victim["id"]
    assert (await client.get(f"/api/v1/customers/{victim['id']}/merges", headers=headers)).json()["items"] == []
    queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
    assert [(s["customer_id"], s["other_customer_id"]) for s in queue] == [(strangers[0]["id"], victim["id"])]
