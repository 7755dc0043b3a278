"""A phone or e-mail typed into the website chat is evidence, never proof (issue 12): a stranger
who types a customer's phone keeps his own profile, sees nothing of the customer's, and the pair
is offered to operators as a merge suggestion. Everything runs through the real widget WebSocket
and the Telegram fake served on loopback."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import ClassVar

import httpx
import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy import select, update
from websockets.asyncio.client import connect

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.base import Capabilities, OutboundMessage, SendResult, WebhookRejected, WebhookRequest, WebhookResult
from okno.channels.registry import ADAPTERS
from okno.customers.matching import realtime
from okno.kit.time import utcnow
from okno.models import Customer, Identity, IdentityVerification, Message
from tests.channels.harnesses import HARNESSES
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_operator

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


# ---- proving the typed key with a one-time code ------------------------------------------------


def code_sent_to(fake: FakeTelegram, chat_id: str) -> str:
    texts = [s["text"] for s in fake.sent if str(s["chat_id"]) == chat_id]
    assert texts, f"nothing was sent to Telegram chat {chat_id}"
    found = re.findall(r"\b(\d{6})\b", texts[-1])
    assert len(found) == 1, texts[-1]
    return found[0]


async def ask(ws, frame: dict) -> dict:  # noqa: ANN001
    await send(ws, frame)
    return (await frames_until(ws, "verify"))[-1]


async def test_a_code_sent_to_the_customers_telegram_proves_the_phone_and_attaches_the_visitor(shop, client, ctx) -> None:
    headers, victim, fake = shop["headers"], shop["victim"], shop["fake"]
    visitor = await visitor_session(shop)
    async with socket(shop, visitor["token"]) as ws:
        await send(ws, {"type": "contact", "client_id": "k-1", "phone": "+7 903 555-01-01"})
        await send(ws, {"type": "message", "client_id": "c-1", "text": "Это я, Пётр, пишу с сайта"})
        await frames_until(ws, "ack")
        await frames_until(ws, "ack")
        await ctx.settle()
        sent = await ask(ws, {"type": "verify", "kind": "phone", "value": "8 (903) 555-01-01", "lang": "ru"})
        assert sent["status"] == "sent" and sent["kind"] == "phone" and sent["expires_in"] == 600
        code = code_sent_to(fake, VICTIM_TELEGRAM)
        assert "Код подтверждения" in fake.sent[-1]["text"]
        async with ctx.db.reading() as session:
            row = await session.scalar(select(IdentityVerification))
        assert (row.kind, row.value, row.owner_id, row.via_channel_id) == ("phone", VICTIM_PHONE, victim["id"], shop["telegram"]["id"])
        assert code not in (row.code_hash, row.salt) and len(row.code_hash) == 64  # only a keyed hash is kept

        verified = await ask(ws, {"type": "verify_code", "code": code})
        assert verified["status"] == "verified"
        await ctx.settle()

        # the visitor is the customer now: his web identity and his conversation moved to him
        owner = (await client.get("/api/v1/customers", params={"identity": f"web:{visitor['visitor_id']}"}, headers=headers)).json()["items"]
        assert [c["id"] for c in owner] == [victim["id"]]
        merges = (await client.get(f"/api/v1/customers/{victim['id']}/merges", headers=headers)).json()["items"]
        assert len(merges) == 1 and merges[0]["origin"] == "verified" and merges[0]["survivor_id"] == victim["id"]
        assert "proved phone:+79035550101 with a one-time code" in merges[0]["reason"]
        queue = (await client.get("/api/v1/merge-suggestions", headers=headers)).json()["items"]
        assert queue == []  # the suggestion was settled by the merge
        async with ctx.db.reading() as session:
            texts = (await session.scalars(select(Message.text).where(Message.customer_id == victim["id"]))).all()
        assert "Это я, Пётр, пишу с сайта" in texts

        # an operator's answer in the website conversation reaches the visitor's socket
        conversations = (await client.get("/api/v1/conversations", params={"customer_id": victim["id"]}, headers=headers)).json()["items"]
        on_site = next(c for c in conversations if c["channel_id"] == shop["widget"]["id"])
        reply = await client.post(f"/api/v1/conversations/{on_site['id']}/messages", json={"text": "Здравствуйте, Пётр!"}, headers=headers)
        assert reply.status_code == 201, reply.text
        await ctx.settle()
        pushed = [f for f in await frames_until(ws, "message") if f["type"] == "message"]
        while pushed[-1]["from"] != "agent":
            pushed = [f for f in await frames_until(ws, "message") if f["type"] == "message"]
        assert pushed[-1]["text"] == "Здравствуйте, Пётр!"

    # undoable like every merge: the visitor gets his own profile back
    undone = await client.post(f"/api/v1/merges/{merges[0]['id']}/undo", json={"reason": "проверка"}, headers=headers)
    assert undone.status_code == 200, undone.text
    back = (await client.get("/api/v1/customers", params={"identity": f"web:{visitor['visitor_id']}"}, headers=headers)).json()["items"]
    assert back[0]["id"] != victim["id"]


async def test_wrong_expired_and_exhausted_codes_attach_nothing_and_sends_are_limited(shop, client, ctx) -> None:
    headers, victim, fake = shop["headers"], shop["victim"], shop["fake"]
    visitor = await visitor_session(shop)
    async with socket(shop, visitor["token"]) as ws:
        assert (await ask(ws, {"type": "verify_code", "code": "123456"}))["status"] == "no_code"
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": "not a phone"}))["status"] == "invalid"
        await send(ws, {"type": "verify", "kind": "email", "value": "a\u0000@example.ru"})  # no NUL reaches the database
        assert "NUL" in (await frames_until(ws, "error"))[-1]["detail"]
        await send(ws, {"type": "verify_code", "code": "12ab"})  # malformed: refused before any attempt counts
        assert "code" in (await frames_until(ws, "error"))[-1]["detail"]

        # a wrong code, then the right one after it expired
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": VICTIM_PHONE, "lang": "en"}))["status"] == "sent"
        code = code_sent_to(fake, VICTIM_TELEGRAM)
        assert "confirmation code" in fake.sent[-1]["text"]
        wrong = other_than(code)
        refused = await ask(ws, {"type": "verify_code", "code": wrong})
        assert (refused["status"], refused["attempts_left"]) == ("wrong_code", 4)
        async with ctx.db.transaction() as session:
            await session.execute(update(IdentityVerification).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert (await ask(ws, {"type": "verify_code", "code": code}))["status"] == "expired"

        # five wrong codes lock the code: the right one is refused afterwards
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": VICTIM_PHONE}))["status"] == "sent"
        code = code_sent_to(fake, VICTIM_TELEGRAM)
        outcomes = [(await ask(ws, {"type": "verify_code", "code": other_than(code)}))["status"] for _ in range(5)]
        assert outcomes == ["wrong_code"] * 4 + ["too_many_attempts"]
        assert (await ask(ws, {"type": "verify_code", "code": code}))["status"] == "too_many_attempts"

        # three codes an hour per visitor; the fourth is refused and nothing is sent
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": VICTIM_PHONE}))["status"] == "sent"
        sent_before = len(fake.sent)
        limited = await ask(ws, {"type": "verify", "kind": "email", "value": "petr@example.ru"})
        assert limited["status"] == "too_many_requests" and 0 < limited["retry_after"] <= 3600
        assert len(fake.sent) == sent_before
    # ... and three per key, whichever visitor asks
    other = await visitor_session(shop)
    async with socket(shop, other["token"]) as ws:
        limited = await ask(ws, {"type": "verify", "kind": "phone", "value": "+7 903 555-01-01"})
        assert limited["status"] == "too_many_requests" and "key" in limited["detail"]
    assert len(fake.sent) == sent_before

    assert (await client.get(f"/api/v1/customers/{victim['id']}/merges", headers=headers)).json()["items"] == []
    victim_now = (await client.get(f"/api/v1/customers/{victim['id']}", headers=headers)).json()
    assert {i["kind"] for i in victim_now["identities"]} == {"telegram", "phone"}


async def test_the_answer_is_the_same_whether_the_key_is_known_or_not(shop, ctx) -> None:
    visitor = await visitor_session(shop)
    async with socket(shop, visitor["token"]) as ws:
        unknown = await ask(ws, {"type": "verify", "kind": "phone", "value": "+7 916 000-00-01"})
        known = await ask(ws, {"type": "verify", "kind": "phone", "value": VICTIM_PHONE})
    assert {k: v for k, v in unknown.items()} == {k: v for k, v in known.items()}
    async with ctx.db.reading() as session:
        rows = (await session.scalars(select(IdentityVerification).order_by(IdentityVerification.id))).all()
    assert [(r.owner_id is None, r.via_channel_id is None, r.status) for r in rows] == [(True, True, "superseded"), (False, False, "pending")]


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_the_operators_profile_panel_shows_a_claimed_phone_as_not_confirmed(shop, client, ctx) -> None:
    stranger = await visitor_session(shop)
    async with socket(shop, stranger["token"]) as ws:
        await send(ws, {"type": "contact", "client_id": "k-1", "phone": "+7 903 555-01-01"})
        await frames_until(ws, "ack")
    await ctx.settle()
    customer = (await client.get("/api/v1/customers", params={"identity": f"web:{stranger['visitor_id']}"}, headers=shop["headers"])).json()["items"][0]
    [conversation] = (await client.get("/api/v1/conversations", params={"customer_id": customer["id"]}, headers=shop["headers"])).json()["items"]
    operator = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
    panel = (await client.get(f"/ui/conversations/{conversation['id']}")).text
    claimed = panel.split('data-testid="claimed-identity"', 1)[1].split("</li>", 1)[0]
    assert VICTIM_PHONE in claimed and "введён вручную, не подтверждён" in claimed
    assert "unverified_identities" not in panel


async def test_a_visitor_with_no_profile_yet_is_attached_too(shop, client, ctx) -> None:
    """The code can be typed before anything the visitor sent was ingested: his profile starts at
    the check, and what he sent before lands with the customer once ingested."""
    headers, victim = shop["headers"], shop["victim"]
    visitor = await visitor_session(shop)
    async with socket(shop, visitor["token"]) as ws:
        await send(ws, {"type": "message", "client_id": "c-1", "text": "Пишу с сайта"})
        await frames_until(ws, "ack")  # stored, not ingested yet
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": VICTIM_PHONE}))["status"] == "sent"
        assert (await ask(ws, {"type": "verify_code", "code": code_sent_to(shop["fake"], VICTIM_TELEGRAM)}))["status"] == "verified"
    await ctx.settle()
    owner = (await client.get("/api/v1/customers", params={"identity": f"web:{visitor['visitor_id']}"}, headers=headers)).json()["items"]
    assert [c["id"] for c in owner] == [victim["id"]]
    async with ctx.db.reading() as session:
        texts = (await session.scalars(select(Message.text).where(Message.customer_id == victim["id"]))).all()
    assert "Пишу с сайта" in texts
    [merge] = (await client.get(f"/api/v1/customers/{victim['id']}/merges", headers=headers)).json()["items"]
    assert merge["origin"] == "verified"


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "vk", "max"])
async def test_every_messenger_delivers_the_code_through_its_provider(kind, app, client, ctx) -> None:
    """The code reaches the customer through each messenger's real send call (its fake provider's
    log). The customer's phone: WhatsApp's own wa_id, for the others a CRM-vouched identity."""
    harness = HARNESSES[kind]
    fake = harness.make_fake()
    user = harness.user(7)
    headers = await admin_headers(ctx, client)
    async with LoopbackServer(fake.app) as provider, LoopbackServer(app) as server:
        fake.base_url = provider.url
        channel = (await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": fake.channel_config()}, headers=headers)).json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        widget = (await client.post("/api/v1/channels", json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [SITE]}}, headers=headers)).json()
        assert (await fake.deliver_text(user, "Здравствуйте")).status_code == 200
        await ctx.settle()
        [customer] = (await client.get("/api/v1/customers", params={"identity": f"{harness.identity_kind}:{user}"}, headers=headers)).json()["items"]
        phone = f"+{user}" if kind == "whatsapp" else "+79035550199"
        if kind != "whatsapp":
            async with ctx.db.transaction() as session:
                session.add(Identity(customer_id=customer["id"], kind="phone", value=phone))
        shop = {"base": server.url, "widget": widget}
        visitor = await visitor_session(shop)
        async with socket(shop, visitor["token"]) as ws:
            assert (await ask(ws, {"type": "verify", "kind": "phone", "value": phone}))["status"] == "sent"
            [code] = re.findall(r"\b(\d{6})\b", fake.sent_texts()[-1])
            assert (await ask(ws, {"type": "verify_code", "code": code}))["status"] == "verified"
    owner = (await client.get("/api/v1/customers", params={"identity": f"web:{visitor['visitor_id']}"}, headers=headers)).json()["items"]
    assert [c["id"] for c in owner] == [customer["id"]]
    async with ctx.db.reading() as session:
        assert (await session.scalar(select(IdentityVerification.via_channel_id))) == channel["id"]


class _SmsConfig(BaseModel):
    sender_name: str = "SHOP"


class SmsGateway:
    """What a future SMS channel declares: it delivers a code straight to a phone number, so
    reading the code proves the number itself (no owner needed)."""

    kind: ClassVar[str] = "sms_test"
    title: ClassVar[str] = "SMS (test)"
    config_model: ClassVar[type[BaseModel]] = _SmsConfig
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=700, address_kinds=frozenset({"phone"}), one_time_codes=frozenset({"phone"}))
    outbox: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: _SmsConfig, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(405, "no inbound SMS in this test")

    async def send(self, config: _SmsConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        self.outbox.append((message.recipient.first("phone") or "", message.text))
        return SendResult(provider_message_id=str(len(self.outbox)))


async def test_an_sms_channel_proves_a_phone_nobody_owns_and_it_joins_the_visitors_profile(shop, client, ctx, monkeypatch) -> None:
    monkeypatch.setitem(ADAPTERS, SmsGateway.kind, SmsGateway)
    monkeypatch.setattr(SmsGateway, "outbox", [])
    headers = shop["headers"]
    created = await client.post("/api/v1/channels", json={"kind": "sms_test", "name": "SMS", "config": {}}, headers=headers)
    assert created.status_code == 201, created.text
    visitor = await visitor_session(shop)
    async with socket(shop, visitor["token"]) as ws:
        await send(ws, {"type": "contact", "client_id": "k-1", "phone": "+7 916 000-77-66"})
        await frames_until(ws, "ack")
        await ctx.settle()
        assert (await ask(ws, {"type": "verify", "kind": "phone", "value": "+7 916 000-77-66"}))["status"] == "sent"
        [(number, text)] = SmsGateway.outbox
        assert number == "+79160007766"
        [code] = re.findall(r"\b(\d{6})\b", text)
        assert (await ask(ws, {"type": "verify_code", "code": code}))["status"] == "verified"
    [customer] = (await client.get("/api/v1/customers", params={"identity": "phone:+79160007766"}, headers=headers)).json()["items"]
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {("web", visitor["visitor_id"]), ("phone", "+79160007766")}
    assert "unverified_identities" not in customer["attributes"]
    assert (await client.get(f"/api/v1/customers/{customer['id']}/merges", headers=headers)).json()["items"] == []
