"""The website chat under abuse: NUL text, floods, and receipts for other people's messages get
clear error frames on a socket that stays open; session floods get 429."""

from __future__ import annotations

import httpx
import orjson
import pytest
from sqlalchemy import select

from okno.models import InboundItem, Message
from tests.channels.test_widget import SITE, _frame, _session, _socket, widget  # noqa: F401 - the fixture

LIMITS = {"widget_messages_per_minute": 3, "widget_sessions_per_minute_per_ip": 4, "widget_receipts_per_minute": 3}


@pytest.fixture
def settings(settings):  # noqa: ANN001, ANN201 - the suite's settings, with small limits
    return settings.model_copy(update=LIMITS)


async def _send(ws, frame: dict | str) -> None:  # noqa: ANN001
    await ws.send(frame if isinstance(frame, str) else orjson.dumps(frame).decode())


async def test_a_nul_message_gets_an_error_frame_and_the_socket_stays(widget, ctx) -> None:  # noqa: F811
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        await _send(ws, '{"type": "message", "client_id": "c-nul", "text": "при\\u0000вет"}')
        error = await _frame(ws, "error")
        assert error["code"] == "invalid" and error["client_id"] == "c-nul" and "NUL" in error["detail"]
        await ws.send(b'{"type": "ping"}')  # a binary frame is read too
        await _frame(ws, "pong")
        await _send(ws, {"type": "message", "client_id": "c-ok", "text": "привет"})
        assert (await _frame(ws, "ack"))["client_id"] == "c-ok"
    await ctx.settle()
    async with ctx.db.reading() as db:
        assert [m.text for m in (await db.scalars(select(Message))).all()] == ["привет"]


async def test_a_flooding_visitor_is_told_to_wait(widget) -> None:  # noqa: F811
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        for n in range(4):
            await _send(ws, {"type": "message", "client_id": f"c-{n}", "text": f"сообщение {n}"})
        acks = [await _frame(ws, "ack") for _ in range(3)]
        refused = await _frame(ws, "error")
    assert [a["client_id"] for a in acks] == ["c-0", "c-1", "c-2"]
    assert refused["code"] == "rate_limited" and refused["client_id"] == "c-3" and 0 < refused["retry_after"] <= 20


async def test_sessions_per_address_are_limited(widget) -> None:  # noqa: F811
    url = f"{widget['base']}/widget/{widget['channel']['id']}/session"
    async with httpx.AsyncClient() as http:
        answers = [await http.post(url, json={}, headers={"origin": SITE}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1 and answers[-1].headers["access-control-allow-origin"] == SITE
    assert "too many" in answers[-1].json()["detail"]


async def test_receipts_count_only_for_the_visitors_own_operator_messages(widget, ctx, client) -> None:  # noqa: F811
    alice, mallory = await _session(widget), await _session(widget)
    async with _socket(widget, alice["token"]) as ws:
        await _send(ws, {"type": "message", "client_id": "a-1", "text": "Здравствуйте"})
        await _frame(ws, "ack")
        await ctx.settle()
        conversation_id = (await client.get("/api/v1/conversations", headers=widget["headers"])).json()["items"][0]["id"]
        reply = (await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Добрый день!"}, headers=widget["headers"])).json()
        await ctx.settle()
        pushed = await _frame(ws, "message")
        while pushed["from"] != "agent":
            pushed = await _frame(ws, "message")
    async with ctx.db.reading() as db:
        staged_before = len((await db.scalars(select(InboundItem))).all())

    async with _socket(widget, mallory["token"]) as ws:  # another visitor names Alice's message
        await _send(ws, {"type": "read", "message_id": pushed["message_id"]})
        refused = await _frame(ws, "error")
        assert refused["code"] == "unknown_message" and refused["message_id"] == pushed["message_id"]
        await _send(ws, {"type": "read", "message_id": "widget:does-not-exist"})
        assert (await _frame(ws, "error"))["code"] == "unknown_message"
    async with ctx.db.reading() as db:
        assert len((await db.scalars(select(InboundItem))).all()) == staged_before  # nothing staged
        assert (await db.get(Message, reply["id"])).status != "read"

    async with _socket(widget, alice["token"]) as ws:
        for _ in range(3):  # a repeat of a taken receipt changes nothing and costs nothing
            await _send(ws, {"type": "received", "message_id": pushed["message_id"]})
        await _send(ws, {"type": "read", "message_id": pushed["message_id"]})
        await _send(ws, {"type": "ping"})
        await _frame(ws, "pong")
        for _ in range(2):  # own message, but past the receipt rate (3 a minute): the third is refused
            await _send(ws, {"type": "read", "message_id": "widget:not-mine"})
        errors = [await _frame(ws, "error") for _ in range(2)]
    assert [e["code"] for e in errors] == ["unknown_message", "rate_limited"]
    await ctx.settle()
    async with ctx.db.reading() as db:
        assert (await db.get(Message, reply["id"])).status == "read"


def test_buckets_refill_over_time_and_forget_idle_keys(monkeypatch) -> None:  # noqa: ANN001
    from okno.kit import buckets as limits

    now = [1000.0]
    buckets = limits.Buckets(per_minute=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(30.0)  # one token comes back every 30 s
    now[0] += 30
    assert buckets.take("a") == 0
    monkeypatch.setattr(limits, "MAX_KEYS", 3)
    for key in ("b", "c"):
        buckets.take(key)
    now[0] += 60  # everyone has refilled: their entries are forgotten when room is needed
    buckets.take("d")
    assert set(buckets._state) == {"d"}
