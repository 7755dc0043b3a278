"""The website widget over its real WebSocket, served on loopback."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from okno.models import Customer, InboundItem, Message
from tests.conftest import LoopbackServer
from tests.factories import admin_headers

SITE = "https://shop.example"


@pytest.fixture
async def widget(app, client, ctx):  # noqa: ANN001, ANN201
    headers = await admin_headers(ctx, client)
    created = await client.post(
        "/api/v1/channels",
        json={"kind": "widget", "name": "Сайт", "config": {"allowed_origins": [SITE], "title": "Поддержка магазина"}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["config"]["token_secret"] == "********"
    async with LoopbackServer(app) as server:
        yield {"channel": channel, "headers": headers, "base": server.url, "ws": server.url.replace("http", "ws")}


async def _session(w: dict, token: str | None = None) -> dict:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{w['base']}/widget/{w['channel']['id']}/session", json={"token": token}, headers={"origin": SITE})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SITE
    return response.json()


def _socket(w: dict, token: str, last_seq: int = 0, origin: str = SITE):  # noqa: ANN202
    return connect(f"{w['ws']}/ws/widget/{w['channel']['id']}?token={token}&last_seq={last_seq}", origin=origin, open_timeout=5)


async def _frame(ws, kind: str, timeout: float = 5.0) -> dict:  # noqa: ANN001
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def test_session_is_issued_to_allowed_origins_only(widget) -> None:
    session = await _session(widget)
    assert session["visitor_id"].startswith("v_") and session["title"] == "Поддержка магазина"
    assert (await _session(widget, session["token"]))["visitor_id"] == session["visitor_id"]
    assert (await _session(widget, "v_forged.99999999999.AAAA"))["visitor_id"] != session["visitor_id"]
    async with httpx.AsyncClient() as http:
        url = f"{widget['base']}/widget/{widget['channel']['id']}/session"
        refused = await http.post(url, json={}, headers={"origin": "https://evil.example"})
        assert refused.status_code == 403 and "evil.example" in refused.json()["detail"]
        preflight = await http.options(url, headers={"origin": SITE, "access-control-request-method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SITE
        script = await http.get(f"{widget['base']}/widget/{widget['channel']['id']}.js")
        assert script.status_code == 200 and "OknoChat" in script.text
        assert (await http.get(f"{widget['base']}/widget/999.js")).status_code == 404


async def test_messages_are_acked_idempotently_and_land_with_page_context(widget, ctx) -> None:
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        frame = {"type": "message", "client_id": "c-1", "text": "Есть доставка в Казань?", "page_url": "https://shop.example/p/42?utm_source=vk", "utm": {"utm_source": "vk"}}
        await ws.send(orjson.dumps(frame).decode())
        first = await _frame(ws, "ack")
        await ws.send(orjson.dumps(frame).decode())  # the widget resends after a reconnect
        again = await _frame(ws, "ack")
        assert first == again == {"type": "ack", "client_id": "c-1", "seq": 1}
        await ws.send(orjson.dumps({"type": "message", "client_id": "c-2", "text": ""}).decode())
        error = await _frame(ws, "error")
        assert error["client_id"] == "c-2" and "text" in error["detail"]
        await ws.send("not json")
        assert "unknown frame" in (await _frame(ws, "error"))["detail"]
        await ws.send('{"type": "ping"}')
        await _frame(ws, "pong")
    await ctx.settle()
    async with ctx.db.reading() as session_db:
        messages = (await session_db.scalars(select(Message))).all()
    assert [m.text for m in messages] == ["Есть доставка в Казань?"]
    async with httpx.AsyncClient(base_url=widget["base"]) as http:
        found = (await http.get("/api/v1/customers", params={"identity": f"web:{session['visitor_id']}"}, headers=widget["headers"])).json()["items"]
        timeline = (await http.get(f"/api/v1/customers/{found[0]['id']}/timeline", headers=widget["headers"])).json()["items"]
    received = next(e for e in timeline if e["kind"] == "message.received")
    assert received["data"]["context"] == {"widget": {"page_url": "https://shop.example/p/42?utm_source=vk", "utm": {"utm_source": "vk"}}}


async def test_left_contacts_are_kept_as_evidence_not_identities(widget, ctx) -> None:
    """Anyone can type anyone's phone: typed keys prove nothing until a one-time code proves them
    (tests/channels/test_widget_identity_proof.py)."""
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        await ws.send(orjson.dumps({"type": "contact", "client_id": "k-1", "name": "Ольга", "phone": "8 916 555-44-33", "email": "Olga@Mail.ru"}).decode())
        await _frame(ws, "ack")
    await ctx.settle()
    async with httpx.AsyncClient(base_url=widget["base"]) as http:
        assert (await http.get("/api/v1/customers", params={"identity": "phone:+79165554433"}, headers=widget["headers"])).json()["items"] == []
        customer = (await http.get("/api/v1/customers", params={"identity": f"web:{session['visitor_id']}"}, headers=widget["headers"])).json()["items"][0]
    assert customer["name"] == "Ольга"
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {("web", session["visitor_id"])}
    async with ctx.db.reading() as db_session:
        stored = await db_session.get(Customer, customer["id"])
    assert stored.attributes["unverified_identities"] == ["phone:+79165554433", "email:olga@mail.ru"]


async def test_operator_reply_is_pushed_live_replayed_on_reconnect_and_read(widget, ctx, client) -> None:
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        await ws.send(orjson.dumps({"type": "message", "client_id": "c-1", "text": "Здравствуйте"}).decode())
        await _frame(ws, "ack")
        await ctx.settle()
        conversation_id = (await client.get("/api/v1/conversations", headers=widget["headers"])).json()["items"][0]["id"]
        reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Добрый день! Чем помочь?"}, headers=widget["headers"])).json()
        await ctx.settle()
        pushed = await _frame(ws, "message")
        while pushed["from"] != "agent":
            pushed = await _frame(ws, "message")
        assert pushed["text"] == "Добрый день! Чем помочь?" and pushed["seq"] == 2
        await ws.send(orjson.dumps({"type": "received", "message_id": pushed["message_id"]}).decode())
        await ws.send(orjson.dumps({"type": "read", "message_id": pushed["message_id"]}).decode())
        await ws.send('{"type": "ping"}')
        await _frame(ws, "pong")
    await ctx.settle()
    async with ctx.db.reading() as db_session:
        assert (await db_session.get(Message, reply["id"])).status == "read"

    async with _socket(widget, session["token"], last_seq=0) as ws:  # a new tab: the whole history
        replay = [await _frame(ws, "message"), await _frame(ws, "message")]
    assert [(f["seq"], f["from"], f["text"]) for f in replay] == [(1, "visitor", "Здравствуйте"), (2, "agent", "Добрый день! Чем помочь?")]
    async with _socket(widget, session["token"], last_seq=1) as ws:  # reconnect after seq 1: only what was missed
        missed = await _frame(ws, "message")
        assert missed["seq"] == 2
        await ws.send('{"type": "ping"}')
        assert (await _frame(ws, "pong")) == {"type": "pong"}


@pytest.mark.parametrize(("token", "origin", "code"), [("v_bad.1.x", SITE, 4401), (None, "https://evil.example", 4403)])
async def test_bad_token_or_origin_is_closed_with_a_reason(widget, ctx, token, origin, code) -> None:
    session = await _session(widget)
    async with _socket(widget, token or session["token"], origin=origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == code
    async with ctx.db.reading() as db_session:
        assert (await db_session.scalars(select(InboundItem))).all() == []


async def test_webhook_post_to_a_widget_channel_explains_itself(widget, client) -> None:
    response = await client.post(f"/webhooks/{widget['channel']['id']}", content=b"{}")
    assert response.status_code == 405 and "/ws/widget/" in response.json()["detail"]


async def test_typing_reaches_operators_throttled_and_is_never_stored(widget, ctx) -> None:  # noqa: ANN001
    session = await _session(widget)
    feed = ctx.operator_feed.subscribe()
    try:
        async with _socket(widget, session["token"]) as ws:
            await ws.send('{"type": "typing"}')  # no conversation yet: nothing to show it in
            await ws.send(orjson.dumps({"type": "message", "client_id": "c-1", "text": "Здравствуйте"}).decode())
            await _frame(ws, "ack")
            await ctx.settle()
            async with ctx.db.reading() as db:
                conversation_id = await db.scalar(select(Message.conversation_id))
                stored = len((await db.scalars(select(InboundItem))).all())
            await asyncio.sleep(3.1)  # past the throttle window of the first frame
            for _ in range(3):  # one shown, the two close behind it dropped
                await ws.send('{"type": "typing"}')
            await ws.send('{"type": "ping"}')
            await _frame(ws, "pong")
        signals = []
        while not feed.empty():
            event = feed.get_nowait()
            if event.get("customer"):
                signals.append(event)
        assert signals == [{"presence": True, "conversation_id": conversation_id, "customer": True, "typing": True, "seconds": 6}]
        async with ctx.db.reading() as db:
            assert len((await db.scalars(select(InboundItem))).all()) == stored  # typing is never an inbound item
    finally:
        ctx.operator_feed.unsubscribe(feed)
