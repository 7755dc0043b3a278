"""Threading per channel kind, end to end through real webhooks.

Per-customer channels (messengers, the API channel without ``thread_id``) continue the
customer's one unthreaded conversation; threaded touches (the API channel with ``thread_id``, a
per-thread adapter such as calls, a per-item adapter such as reviews) get conversations of their
own, all on the one customer timeline. A resolved thread reopens on a new touch; a closed one
gets a follow-up conversation in the same thread.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy import select

from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.channels.base import (
    Capabilities,
    InboundMessage,
    OutboundMessage,
    PermanentFailure,
    Recipient,
    SenderIdentity,
    SendResult,
    Threading,
    WebhookRequest,
    WebhookResult,
)
from okno.channels.registry import ADAPTERS
from okno.models import Conversation, Message, OutboxEvent
from tests.factories import admin_headers, make_api_channel, post_inbound

PHONE = "+79161234567"


class _NoConfig(BaseModel):
    pass


class _TestEvents:
    """A test adapter: one JSON event per request ({"id", "phone", "text", "thread"?})."""

    title: ClassVar[str] = "test"
    config_model: ClassVar[type[BaseModel]] = _NoConfig
    message_kind: ClassVar[str] = "message"

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: _NoConfig, request: WebhookRequest) -> WebhookResult:
        body = orjson.loads(request.body)
        item = InboundMessage(
            provider_id=body["id"],
            provider_message_id=body["id"],
            sender=[SenderIdentity(kind="phone", value=body["phone"])],
            text=body["text"],
            thread_key=body.get("thread"),
            message_kind=self.message_kind,
        )
        return WebhookResult(items=[item])

    async def send(self, config: _NoConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        raise PermanentFailure("test channel: no replies")


class CallsChannel(_TestEvents):
    kind: ClassVar[str] = "test_calls"
    message_kind: ClassVar[str] = "call"
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=1000, threading=Threading.per_thread, medium="call")


class ReviewsChannel(_TestEvents):
    kind: ClassVar[str] = "test_reviews"
    message_kind: ClassVar[str] = "review"
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=1000, threading=Threading.per_item)


@pytest.fixture
def test_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ADAPTERS, CallsChannel.kind, CallsChannel)
    monkeypatch.setitem(ADAPTERS, ReviewsChannel.kind, ReviewsChannel)


async def _channel(client: httpx.AsyncClient, headers: dict[str, str], kind: str) -> dict:
    created = await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": {}}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def _event(client: httpx.AsyncClient, channel: dict, **event: Any) -> None:
    response = await client.post(f"/webhooks/{channel['id']}", content=orjson.dumps({"phone": PHONE, **event}))
    assert response.status_code == 200, response.text


async def _inbound(client: httpx.AsyncClient, ctx, channel: dict, message_id: str, text: str, **extra: Any) -> None:  # noqa: ANN001
    response = await post_inbound(client, channel, {"message_id": message_id, "from": {"phone": PHONE}, "text": text, **extra})
    assert response.status_code == 200, response.text
    await ctx.settle()


async def _conversations(ctx) -> list[Conversation]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))


async def _texts_by_conversation(ctx) -> dict[int, list[str]]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(Message.conversation_id, Message.text).where(Message.direction == "in").order_by(Message.id))).all()
    found: dict[int, list[str]] = {}
    for conversation_id, text in rows:
        found.setdefault(conversation_id, []).append(text)
    return found


async def _set_status(client: httpx.AsyncClient, headers: dict[str, str], conversation_id: int, status: str) -> None:
    response = await client.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": status, "reason": "delivery"}, headers=headers)
    assert response.status_code == 200, response.text


async def test_two_threads_of_one_customer_are_two_conversations_on_one_timeline(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    await _inbound(client, ctx, crm, "t1-1", "Заказ 1: где он?", thread_id="order-1", subject="Заказ 1")
    await _inbound(client, ctx, crm, "t2-1", "Заказ 2: хочу вернуть", thread_id="order-2", subject="Заказ 2")
    await _inbound(client, ctx, crm, "t1-2", "Заказ 1: всё ещё жду", thread_id="order-1")

    first, second = await _conversations(ctx)
    assert (first.thread_key, second.thread_key) == ("order-1", "order-2")
    assert first.customer_id == second.customer_id and first.channel_id == second.channel_id == crm["id"]
    assert await _texts_by_conversation(ctx) == {first.id: ["Заказ 1: где он?", "Заказ 1: всё ещё жду"], second.id: ["Заказ 2: хочу вернуть"]}

    timeline = (await client.get(f"/api/v1/customers/{first.customer_id}/timeline", headers=headers)).json()["items"]
    opened = [e for e in timeline if e["kind"] == "conversation.opened"]
    assert [(e["conversation_id"], e["data"]["thread_key"]) for e in opened] == [(first.id, "order-1"), (second.id, "order-2")]
    assert {e["conversation_id"] for e in timeline if e["kind"] == "message.received"} == {first.id, second.id}
    assert all(e["actor"] == {"type": "customer", "id": None, "ref": None} for e in timeline)
    messages = (await client.get(f"/api/v1/conversations/{second.id}/messages", headers=headers)).json()["items"]
    assert [(m["subject"], m["kind"], m["actor"]["type"]) for m in messages] == [("Заказ 2", "message", "customer")]
    listed = (await client.get("/api/v1/conversations", params={"customer_id": first.customer_id}, headers=headers)).json()["items"]
    assert sorted(c["thread_key"] for c in listed) == ["order-1", "order-2"]


async def test_messenger_touches_continue_one_conversation_and_a_thread_never_joins_it(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    whatsapp = FakeWhatsApp()
    whatsapp.base_url = "http://127.0.0.1:9"  # nothing is sent in this test
    created = await client.post("/api/v1/channels", json={"kind": "whatsapp", "name": "WA", "config": whatsapp.channel_config()}, headers=headers)
    assert created.status_code == 201, created.text
    whatsapp.connect(client, f"/webhooks/{created.json()['id']}")
    crm = await make_api_channel(client, headers)

    assert (await whatsapp.deliver_text(PHONE.removeprefix("+"), "Привет из WhatsApp")).status_code == 200
    await ctx.settle()
    await _inbound(client, ctx, crm, "chat-2", "И из CRM-чата")  # per customer: the same conversation
    await _inbound(client, ctx, crm, "ticket-1", "Отдельная заявка", thread_id="ticket-9")
    assert (await whatsapp.deliver_text(PHONE.removeprefix("+"), "Снова в WhatsApp")).status_code == 200
    await ctx.settle()

    chat, ticket = await _conversations(ctx)
    assert chat.thread_key is None and ticket.thread_key == "ticket-9" and chat.customer_id == ticket.customer_id
    assert await _texts_by_conversation(ctx) == {
        chat.id: ["Привет из WhatsApp", "И из CRM-чата", "Снова в WhatsApp"],
        ticket.id: ["Отдельная заявка"],
    }

    # a reply in the thread goes out where the thread runs, not to the customer's latest channel
    reply = await client.post(f"/api/v1/conversations/{ticket.id}/messages", json={"text": "Заявка принята"}, headers=headers)
    assert reply.status_code == 201 and reply.json()["channel_id"] == crm["id"]
    chat_reply = await client.post(f"/api/v1/conversations/{chat.id}/messages", json={"text": "Здравствуйте"}, headers=headers)
    assert chat_reply.json()["channel_id"] == created.json()["id"]


async def test_a_call_never_joins_a_chat_and_each_call_is_its_own_conversation(client, ctx, test_kinds) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    calls = await _channel(client, headers, CallsChannel.kind)
    kinds = {k["kind"]: k["capabilities"]["threading"] for k in (await client.get("/api/v1/channels/kinds", headers=headers)).json()["items"]}
    assert kinds["test_calls"] == "per_thread" and kinds["api"] == "per_customer" and kinds["test_reviews"] == "per_item"

    await _inbound(client, ctx, crm, "chat-1", "Перезвоните мне")
    await _event(client, calls, id="call-1:ringing", text="Входящий звонок", thread="call-1")
    await _event(client, calls, id="call-1:ended", text="Разговор 2:30", thread="call-1")
    await _event(client, calls, id="call-2", text="Пропущенный звонок")  # no thread key: a thread of its own
    await ctx.settle()
    await _inbound(client, ctx, crm, "chat-2", "Жду звонка")

    chat, first_call, second_call = await _conversations(ctx)
    assert (chat.thread_key, first_call.thread_key, second_call.thread_key) == (None, "call-1", "call-2")
    assert first_call.medium == "call"  # routing counted it as a call
    assert await _texts_by_conversation(ctx) == {
        chat.id: ["Перезвоните мне", "Жду звонка"],
        first_call.id: ["Входящий звонок", "Разговор 2:30"],
        second_call.id: ["Пропущенный звонок"],
    }
    messages = (await client.get(f"/api/v1/conversations/{first_call.id}/messages", headers=headers)).json()["items"]
    assert {m["kind"] for m in messages} == {"call"}


async def test_every_item_of_a_per_item_channel_is_a_conversation_of_its_own(client, ctx, test_kinds) -> None:
    headers = await admin_headers(ctx, client)
    reviews = await _channel(client, headers, ReviewsChannel.kind)
    await _event(client, reviews, id="review-1", text="Отлично", thread="same")
    await _event(client, reviews, id="review-2", text="Плохо", thread="same")  # a per-item channel ignores keys
    await ctx.settle()
    conversations = await _conversations(ctx)
    assert [c.thread_key for c in conversations] == ["review-1", "review-2"]
    assert len({c.customer_id for c in conversations}) == 1


async def test_a_resolved_thread_reopens_and_a_closed_one_gets_a_follow_up(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    await _inbound(client, ctx, crm, "m1", "Не работает оплата", thread_id="T-1")
    [ticket] = await _conversations(ctx)
    await _set_status(client, headers, ticket.id, "resolved")
    await ctx.settle()

    await _inbound(client, ctx, crm, "m2", "Снова не работает", thread_id="T-1")
    [reopened] = await _conversations(ctx)
    assert reopened.id == ticket.id and reopened.status == "open" and reopened.resolved_at is None
    timeline = (await client.get(f"/api/v1/customers/{ticket.customer_id}/timeline", headers=headers)).json()["items"]
    back = [e for e in timeline if e["kind"] == "conversation.status_changed" and e["actor"]["type"] == "customer"]
    assert [(e["data"]["from"], e["data"]["to"]) for e in back] == [("resolved", "open")]
    async with ctx.db.reading() as session:
        payloads = list(await session.scalars(select(OutboxEvent.payload).where(OutboxEvent.topic == "conversation.status_changed").order_by(OutboxEvent.id)))
    assert payloads[-1]["from"] == "resolved" and payloads[-1]["to"] == "open" and payloads[-1]["type"] == "open"
    assert payloads[-1]["conversation_id"] == ticket.id and payloads[-1]["reason"] == "delivery"

    await _set_status(client, headers, ticket.id, "closed")
    await ctx.settle()
    await _inbound(client, ctx, crm, "m3", "А теперь другое", thread_id="T-1")
    await _inbound(client, ctx, crm, "m4", "И ещё", thread_id="T-1")
    closed, follow_up = await _conversations(ctx)
    assert closed.status == "closed" and follow_up.status == "open" and follow_up.thread_key == "T-1"
    assert await _texts_by_conversation(ctx) == {ticket.id: ["Не работает оплата", "Снова не работает"], follow_up.id: ["А теперь другое", "И ещё"]}
    timeline = (await client.get(f"/api/v1/customers/{ticket.customer_id}/timeline", headers=headers)).json()["items"]
    [opened] = [e for e in timeline if e["kind"] == "conversation.opened" and e["conversation_id"] == follow_up.id]
    assert opened["data"] == {"thread_key": "T-1", "follow_up_of": ticket.id}
    page = await client.get(f"/ui/conversations/{follow_up.id}", headers=headers)
    assert f"a follow-up of #{ticket.id}" in page.text or f"продолжение №{ticket.id}" in page.text


async def test_a_resolved_chat_is_not_reopened_by_a_new_chat_message(client, ctx) -> None:
    """Per-customer threading is unchanged: a finished chat stays finished, a new one opens."""
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    await _inbound(client, ctx, crm, "c1", "Вопрос")
    [chat] = await _conversations(ctx)
    await _set_status(client, headers, chat.id, "resolved")
    await _inbound(client, ctx, crm, "c2", "Новый вопрос")
    old, new = await _conversations(ctx)
    assert old.status == "resolved" and new.status == "open" and new.thread_key is None


async def test_a_thread_key_never_attaches_a_touch_to_another_customers_conversation(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    await _inbound(client, ctx, crm, "a1", "Моя заявка", thread_id="shared")
    response = await post_inbound(client, crm, {"message_id": "b1", "from": {"phone": "+79169998877"}, "text": "Чужая", "thread_id": "shared"})
    assert response.status_code == 200
    await ctx.settle()
    first, second = await _conversations(ctx)
    assert first.customer_id != second.customer_id and first.thread_key == second.thread_key == "shared"


async def test_html_is_stored_sanitised_with_its_text_and_shown_in_a_frame_that_runs_nothing(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    html = (
        '<p onclick="steal()">Добрый день,<br>заказ <b>№ 77</b> не пришёл.</p>'
        '<script>alert(1)</script><a href="javascript:alert(2)">ссылка</a><img src=x onerror="alert(3)">'
    )
    await _inbound(client, ctx, crm, "h1", "", thread_id="mail-1", subject="Заказ № 77", html=html, kind="message")
    [conversation] = await _conversations(ctx)
    [message] = (await client.get(f"/api/v1/conversations/{conversation.id}/messages", headers=headers)).json()["items"]
    stored = message["html"]
    assert "<b>№ 77</b>" in stored and "<p>" in stored
    for dangerous in ("<script", "onclick", "onerror", "javascript:", "alert(1)"):
        assert dangerous not in stored
    assert message["text"] == "Добрый день,\nзаказ № 77 не пришёл.\nссылка"
    assert message["subject"] == "Заказ № 77"

    page = await client.get(f"/ui/conversations/{conversation.id}", headers=headers)
    assert page.status_code == 200, page.text
    body = page.text
    assert f'data-testid="subject-{message["id"]}">Заказ № 77<' in body
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in body
    frame = body.split(f'data-testid="html-body-{message["id"]}"', 1)[1].split("</iframe>", 1)[0]
    assert "&lt;b&gt;№ 77&lt;/b&gt;" in frame  # inside the attribute, escaped: the page itself renders no markup from it
    assert "<script" not in frame and "<b>" not in frame


async def test_a_kind_badge_shows_a_call(client, ctx, test_kinds) -> None:
    headers = await admin_headers(ctx, client)
    calls = await _channel(client, headers, CallsChannel.kind)
    await _event(client, calls, id="c-1", text="Входящий звонок", thread="c-1")
    await ctx.settle()
    [conversation] = await _conversations(ctx)
    page = await client.get(f"/ui/conversations/{conversation.id}", headers=headers)
    assert 'class="kind-badge kind-call"' in page.text


async def test_the_api_channel_refuses_an_unknown_kind_and_sends_the_thread_back(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    crm = await make_api_channel(client, headers)
    refused = await post_inbound(client, crm, {"message_id": "k1", "from": {"phone": PHONE}, "text": "x", "kind": "fax"})
    assert refused.status_code == 422 and "kind" in refused.json()["detail"]

    sent: list[dict] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(orjson.loads(request.content))
        return httpx.Response(200, json={"id": "crm-9"})

    adapter = ADAPTERS["api"](crm["id"])
    config = adapter.config_model(secret="a-long-shared-secret-value", outbound_url="https://crm.example/okno")
    recipient = Recipient(customer_id=1, name="Анна", identities=(("phone", PHONE),))
    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as http:
        for thread_key in ("T-7", None):
            outbound = OutboundMessage(message_id=5, conversation_id=2, text="Ответ", recipient=recipient, idempotency_key="k", attempt=1, thread_key=thread_key)
            assert (await adapter.send(config, outbound, http)).provider_message_id == "crm-9"
    assert [body["thread_id"] for body in sent] == ["T-7", None]


async def test_a_reopened_thread_with_a_team_and_nobody_on_it_waits_in_the_queue_again(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    crm = await make_api_channel(client, headers, team_id=team["id"])
    await _inbound(client, ctx, crm, "q1", "Вопрос по счёту", thread_id="INV-1")
    [ticket] = await _conversations(ctx)
    assert ticket.team_id == team["id"] and ticket.queued_at is not None
    await _set_status(client, headers, ticket.id, "resolved")
    await ctx.settle()
    [resolved] = await _conversations(ctx)
    assert resolved.queued_at is None

    await _inbound(client, ctx, crm, "q2", "Счёт всё ещё неверный", thread_id="INV-1")
    [reopened] = await _conversations(ctx)
    assert reopened.status == "open" and reopened.queued_at is not None and reopened.assignee_id is None
