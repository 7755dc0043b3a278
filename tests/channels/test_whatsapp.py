"""The WhatsApp Cloud API adapter: the wire contract (docs/channel-protocols.md §2), real payloads,
statuses in any order, and one customer across Telegram and WhatsApp."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter
from sqlalchemy import select

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.whatsapp.adapter import (
    WINDOW_REASON,
    WhatsAppChannel,
    WhatsAppConfig,
    classify_error,
    recipient_address,
    signature_of,
)
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.channels.base import (
    AttachmentUnavailable,
    ChannelNeedsAction,
    InboundItemModel,
    InboundMessage,
    InboundStatus,
    NeedsAction,
    OutboundMessage,
    PermanentFailure,
    Recipient,
    RetryLater,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
)
from okno.channels.ingest import sender_keys
from okno.models import InboundItem, Message
from tests.channels.fuzz import json_values, mutated_fixtures
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "whatsapp"
FIXTURES: dict[str, dict[str, Any]] = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES_DIR.glob("*.json"))}
APP_SECRET = "fake-meta-app-secret"
CONFIG = WhatsAppConfig(phone_number_id="106540352242922", access_token="EAAJB-token", app_secret=APP_SECRET, verify_token="verify-me")
OUTBOUND_WAMID = "wamid.HBgLNzkxNjEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
_ITEM: TypeAdapter = TypeAdapter(InboundItemModel)


def _signed(body: bytes, signature: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json", "x-hub-signature-256": signature or signature_of(APP_SECRET, body)}
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


def _parse(payload: dict[str, Any]) -> list[InboundMessage | InboundStatus]:
    return WhatsAppChannel(1).handle_webhook(CONFIG, _signed(orjson.dumps(payload))).items


def _first_message(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


# ---- parsing real payloads -----------------------------------------------------------------


def test_text_from_a_bsuid_user_is_keyed_on_bsuid_then_phone() -> None:
    [message] = _parse(FIXTURES["text_bsuid"])
    wamid = _first_message(FIXTURES["text_bsuid"])["id"]
    assert isinstance(message, InboundMessage)
    assert message.provider_id == f"wamid:{wamid}" and message.provider_message_id == wamid
    assert [(s.kind, s.value) for s in message.sender] == [("whatsapp", "RU.13491208655302741918"), ("phone", "+79161234567")]
    assert message.sender_name == "Иван Петров"
    assert message.text == "Здравствуйте 👋 где мой заказ №1042?"
    assert message.attachments == [] and message.context == {}


@pytest.mark.parametrize(
    ("name", "text", "attachment"),
    [
        ("image_caption", "Вот так пришла коробка 📦", {"kind": "image", "media_id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "ZbU6w/gMgY0hjqgH9Y4XfVDkBUtj26Wng1I7aPnXWyM=", "caption": "Вот так пришла коробка 📦"}),
        ("voice", "", {"kind": "voice", "media_id": "1031846358398484", "mime_type": "audio/ogg; codecs=opus", "sha256": "m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI="}),
        ("document", "Чек", {"kind": "file", "media_id": "2207834049659181", "mime_type": "application/pdf", "sha256": "grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc=", "caption": "Чек", "name": "чек-1042.pdf"}),
    ],
)
def test_media_messages_carry_their_attachment(name: str, text: str, attachment: dict[str, Any]) -> None:
    [message] = _parse(FIXTURES[name])
    assert isinstance(message, InboundMessage)
    assert message.text == text and message.attachments == [attachment]
    assert [(s.kind, s.value) for s in message.sender] == [("whatsapp", "79161234567"), ("phone", "+79161234567")]


def test_a_reply_keeps_the_message_it_answers() -> None:
    [message] = _parse(FIXTURES["image_caption"])
    assert message.context == {"whatsapp": {"reply_to": OUTBOUND_WAMID}}


def test_every_message_of_every_entry_is_parsed() -> None:
    messages = _parse(FIXTURES["two_entries"])
    assert [(m.text, m.sender[-1].value, m.sender_name) for m in messages] == [
        ("Первое", "+79161234567", "Иван Петров"),
        ("Second, from London", "+447700900123", "Anna Smith"),
    ]


def test_changes_for_another_phone_number_are_skipped() -> None:
    assert _parse(FIXTURES["other_phone_number"]) == []
    mixed = copy.deepcopy(FIXTURES["text_bsuid"])
    mixed["entry"] += FIXTURES["other_phone_number"]["entry"]
    assert [m.text for m in _parse(mixed)] == ["Здравствуйте 👋 где мой заказ №1042?"]


def test_reactions_are_acknowledged_but_not_stored() -> None:
    assert _parse(FIXTURES["reaction"]) == []


@pytest.mark.parametrize(
    ("name", "status", "error", "timestamp"),
    [
        ("status_sent", "sent", None, 1735690000),
        ("status_delivered", "delivered", None, 1735690005),
        ("status_read", "read", None, 1735690030),
        ("status_failed_131047", "failed", "131047 Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number.", 1735690001),
    ],
)
def test_statuses_parse(name: str, status: str, error: str | None, timestamp: int) -> None:
    [item] = _parse(FIXTURES[name])
    assert isinstance(item, InboundStatus)
    assert (item.provider_message_id, item.status, item.error) == (OUTBOUND_WAMID, status, error)
    assert item.occurred_at is not None and item.occurred_at.timestamp() == timestamp


def test_played_counts_as_read_and_unknown_statuses_are_skipped() -> None:
    payload = copy.deepcopy(FIXTURES["status_read"])
    report = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    report["status"] = "played"
    assert [i.status for i in _parse(payload)] == ["read"]
    report["status"] = "deleted"
    assert _parse(payload) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[]", 422), (b'{"object":"page","entry":[]}', 422), (b'{"object":"whatsapp_business_account"}', 422),
     (b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[]}]}]}', 422)],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as refused:
        WhatsAppChannel(1).handle_webhook(CONFIG, _signed(body))
    assert refused.value.status_code == status and refused.value.reason


# ---- any signed JSON: parsed or refused with 4xx, never a crash ----------------------------

SHAPE_KEYS = ["object", "entry", "changes", "field", "value", "metadata", "phone_number_id", "contacts", "messages", "statuses",
              "id", "type", "from", "wa_id", "user_id", "profile", "name", "text", "body", "status", "timestamp", "errors", "code",
              "title", "message", "error_data", "details", "image", "audio", "voice", "document", "caption", "context", "interactive"]
JSON_VALUES = json_values(SHAPE_KEYS, ["whatsapp_business_account", "messages", "106540352242922", "text", "image", "failed", "played", "79161234567"])



def _parsed_or_refused(body: bytes) -> None:
    try:
        result = WhatsAppChannel(1).handle_webhook(CONFIG, _signed(body))
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500, exc.reason
        return
    for item in result.items:
        assert _ITEM.validate_python(item.model_dump(mode="json")) == item
        if isinstance(item, InboundMessage):
            assert sender_keys(item, "RU")[0], item.sender


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON_VALUES | st.fixed_dictionaries({"object": st.just("whatsapp_business_account"), "entry": JSON_VALUES}) | mutated_fixtures(FIXTURES, JSON_VALUES))
def test_any_signed_json_is_parsed_or_refused_with_4xx(payload: Any) -> None:
    _parsed_or_refused(orjson.dumps(payload))


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_signed_bytes_are_parsed_or_refused_with_4xx(body: bytes) -> None:
    _parsed_or_refused(body)


# ---- sending: addressing and error mapping ---------------------------------------------------


@pytest.mark.parametrize(
    ("identities", "address"),
    [
        ((("whatsapp", "RU.1349"), ("phone", "+79161234567")), {"to": "79161234567"}),
        ((("whatsapp", "79161234567"),), {"to": "79161234567"}),
        ((("telegram", "42"), ("whatsapp", "RU.1349")), {"recipient": "RU.1349"}),
    ],
)
def test_recipient_is_a_phone_when_known_else_the_bsuid(identities: tuple, address: dict[str, str]) -> None:
    assert recipient_address(Recipient(customer_id=1, name="", identities=identities)) == address


def test_a_customer_without_whatsapp_or_phone_cannot_be_written_to() -> None:
    with pytest.raises(PermanentFailure, match="no WhatsApp identity or phone"):
        recipient_address(Recipient(customer_id=1, name="", identities=(("telegram", "42"),)))


@pytest.mark.parametrize(
    ("http_status", "headers", "code", "kind", "detail"),
    [
        (429, {"retry-after": "12"}, 130429, RetryLater, 12.0),
        (400, {}, 131056, RetryLater, 60.0),
        (400, {}, 131048, RetryLater, 60.0),
        (400, {}, 4, RetryLater, 30.0),
        (400, {}, 80007, RetryLater, 30.0),
        (400, {}, 131047, NeedsAction, WINDOW_REASON),
        (401, {}, 190, ChannelNeedsAction, "access token expired or invalid (190)"),
        (403, {}, 368, ChannelNeedsAction, "WhatsApp account blocked or locked (368): boom"),
        (400, {}, 131031, ChannelNeedsAction, "WhatsApp account blocked or locked (131031): boom"),
        (400, {}, 131026, PermanentFailure, "WhatsApp 131026: boom"),
        (400, {}, 131051, PermanentFailure, "WhatsApp 131051: boom"),
        (500, {}, 1, TemporaryFailure, "WhatsApp 1: boom"),
        (503, {}, None, TemporaryFailure, "WhatsApp 503: boom"),
    ],
)
def test_graph_errors_map_to_delivery_errors(http_status: int, headers: dict, code: int | None, kind: type, detail: Any) -> None:
    error = classify_error(http_status, headers, {"message": "boom", "type": "OAuthException", "code": code} if code else {"message": "boom"})
    assert type(error) is kind
    assert (error.after_seconds if isinstance(error, RetryLater) else error.reason) == detail


async def test_network_errors_are_temporary() -> None:
    config = CONFIG.model_copy(update={"graph_base": f"http://127.0.0.1:{free_port()}"})
    outbound = OutboundMessage(message_id=1, conversation_id=1, text="hi", recipient=Recipient(1, "", (("phone", "+79161234567"),)), idempotency_key="k", attempt=1)
    async with httpx.AsyncClient() as http:
        with pytest.raises(TemporaryFailure):
            await WhatsAppChannel(1).send(config, outbound, http)


async def test_attachments_are_fetched_through_the_media_url() -> None:
    fake = FakeWhatsApp()
    fake.media["1479537139650973"] = ("image/jpeg", b"\xff\xd8jpeg-bytes")
    async with LoopbackServer(fake.app) as server, httpx.AsyncClient() as http:
        fake.base_url = server.url
        config = WhatsAppConfig.model_validate(fake.channel_config())
        adapter = WhatsAppChannel(1)
        download = await adapter.fetch_attachment(config, {"kind": "image", "media_id": "1479537139650973", "mime_type": "image/jpeg"}, http)
        assert (download.content, download.content_type) == (b"\xff\xd8jpeg-bytes", "image/jpeg")
        with pytest.raises(AttachmentUnavailable, match="HTTP 400"):
            await adapter.fetch_attachment(config, {"media_id": "404404"}, http)
        with pytest.raises(AttachmentUnavailable, match="HTTP 401"):
            await adapter.fetch_attachment(config.model_copy(update={"access_token": SecretStr("wrong")}), {"media_id": "1479537139650973"}, http)


# ---- over HTTP, through okno ---------------------------------------------------------------


@asynccontextmanager
async def _served(client: httpx.AsyncClient, headers: dict[str, str], fake: Any, kind: str) -> AsyncIterator[dict[str, Any]]:
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield channel


@pytest.fixture
async def wa(client, ctx):  # noqa: ANN001, ANN201
    headers = await admin_headers(ctx, client)
    fake = FakeWhatsApp()
    async with _served(client, headers, fake, "whatsapp") as channel:
        yield SimpleNamespace(fake=fake, channel=channel, headers=headers)


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _message(ctx, message_id: int) -> Message:  # noqa: ANN001
    return next(m for m in await _messages(ctx) if m.id == message_id)


async def _reply(client: httpx.AsyncClient, wa: SimpleNamespace, conversation_id: int, text: str = "Заказ в пути 🚚") -> int:
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "channel_id": wa.channel["id"]}, headers=wa.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _conversation_with(ctx, wa: SimpleNamespace, user: str = "79161234567") -> int:  # noqa: ANN001
    assert (await wa.fake.deliver_text(user, "Здравствуйте")).status_code == 200
    await ctx.settle()
    return (await _messages(ctx))[-1].conversation_id


async def _sent_reply(client: httpx.AsyncClient, ctx, wa: SimpleNamespace) -> Message:  # noqa: ANN001
    message_id = await _reply(client, wa, await _conversation_with(ctx, wa))
    await ctx.settle()
    message = await _message(ctx, message_id)
    assert message.status == "sent" and message.provider_message_id == wa.fake.sent[-1]["id"]
    return message


async def test_handshake_echoes_the_challenge_only_for_the_verify_token(wa) -> None:  # noqa: ANN001
    ok = await wa.fake.handshake(challenge="1158201444")
    assert (ok.status_code, ok.text, ok.headers["content-type"]) == (200, "1158201444", "text/plain")
    assert (await wa.fake.handshake(verify_token="guess")).status_code == 403
    assert (await wa.fake.handshake(mode="unsubscribe")).status_code == 403


async def test_signature_is_checked_over_the_raw_bytes(ctx, wa) -> None:  # noqa: ANN001
    payload = wa.fake.message_payload("79161234567", "text", {"body": "Привет 👋 Ёлка"})
    raw = orjson.dumps(payload)
    assert (await wa.fake.post_webhook(raw, {"content-type": "application/json"})).status_code == 401
    assert (await wa.fake.deliver_forged_text("79161234567", "not Meta")).status_code == 403
    escaped = json.dumps(payload).encode()  # \u-escaped: same JSON, other bytes
    assert escaped != raw and json.loads(escaped) == orjson.loads(raw)
    assert (await wa.fake.deliver_raw(raw, signature=wa.fake.signature(escaped))).status_code == 403
    assert (await wa.fake.deliver_raw(escaped)).status_code == 200
    await ctx.settle()
    assert [m.text for m in await _messages(ctx)] == ["Привет 👋 Ёлка"]


async def test_several_messages_in_one_post_are_all_stored(client, ctx, wa) -> None:  # noqa: ANN001
    response = await wa.fake.deliver_payload(FIXTURES["two_entries"])
    assert response.status_code == 200 and response.json()["accepted"] == 2
    await ctx.settle()
    messages = await _messages(ctx)
    assert [m.text for m in messages] == ["Первое", "Second, from London"]
    assert len({m.customer_id for m in messages}) == 2


async def test_a_failed_status_shows_the_131047_reason_on_the_message(client, ctx, wa) -> None:  # noqa: ANN001
    sent = await _sent_reply(client, ctx, wa)
    assert (await wa.fake.deliver_status(sent.provider_message_id, "failed")).status_code == 200
    await ctx.settle()
    failed = await _message(ctx, sent.id)
    assert failed.status == "failed" and "131047" in failed.error and "24 hours" in failed.error
    shown = await client.get(f"/api/v1/conversations/{sent.conversation_id}/messages", headers=wa.headers)
    assert next(m for m in shown.json()["items"] if m["id"] == sent.id)["error"] == failed.error


async def test_statuses_out_of_order_end_at_read(client, ctx, wa) -> None:  # noqa: ANN001
    sent = await _sent_reply(client, ctx, wa)
    for status in ("read", "delivered", "sent"):
        assert (await wa.fake.deliver_status(sent.provider_message_id, status)).status_code == 200
        await ctx.settle()
    assert (await _message(ctx, sent.id)).status == "read"


async def test_a_status_that_beats_the_send_result_is_applied_after_it(client, ctx, wa) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, wa)
    early = wa.fake.upcoming_wamid("79161234567")
    assert (await wa.fake.deliver_status(early, "delivered")).status_code == 200
    async with ctx.db.reading() as session:
        assert await session.scalar(select(InboundItem.status).where(InboundItem.provider_id == f"status:{early}:delivered")) == "deferred"
    message_id = await _reply(client, wa, conversation_id)
    await ctx.settle()
    message = await _message(ctx, message_id)
    assert (message.provider_message_id, message.status) == (early, "delivered")


async def test_automatic_receipts_racing_the_send_end_at_read(client, ctx, wa) -> None:  # noqa: ANN001
    wa.fake.auto_statuses = True
    message_id = await _reply(client, wa, await _conversation_with(ctx, wa))
    await ctx.settle()
    await wa.fake.pushes_done()
    await ctx.settle()
    assert (await _message(ctx, message_id)).status == "read"


async def test_window_closed_on_send_fails_the_message_with_the_reason(client, ctx, wa) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, wa)
    wa.fake.fail_next_send("window_closed")
    message_id = await _reply(client, wa, conversation_id)
    await ctx.settle()
    message = await _message(ctx, message_id)
    assert (message.status, message.error) == ("failed", WINDOW_REASON)
    assert wa.fake.sent == [] and len(wa.fake.calls) == 1


async def test_a_customer_known_only_by_bsuid_is_written_to_as_recipient(client, ctx, wa) -> None:  # noqa: ANN001
    payload = wa.fake.message_payload("79161234567", "text", {"body": "Пишу по username"})
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Иван"}, "user_id": "RU.13491208655302741918"}]
    del value["messages"][0]["from"]
    assert (await wa.fake.deliver_payload(payload)).status_code == 200
    await ctx.settle()
    message_id = await _reply(client, wa, (await _messages(ctx))[0].conversation_id)
    await ctx.settle()
    assert (await _message(ctx, message_id)).status == "sent"
    [call] = wa.fake.calls
    assert "to" not in call["body"] and call["body"]["recipient"] == "RU.13491208655302741918"


async def test_telegram_customer_is_recognised_in_whatsapp_by_his_phone(client, ctx) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    telegram, whatsapp = FakeTelegram(), FakeWhatsApp(with_bsuid=True)
    async with _served(client, headers, telegram, "telegram") as tg, _served(client, headers, whatsapp, "whatsapp") as wa:
        assert (await telegram.deliver_text("700000042", "Здравствуйте, где заказ?")).status_code == 200
        assert (await telegram.deliver_contact("700000042", "+79161234567")).status_code == 200
        assert (await whatsapp.deliver_text("79161234567", "Это снова я, теперь из WhatsApp 👋")).status_code == 200
        await ctx.settle()

        [customer] = (await client.get("/api/v1/customers", headers=headers)).json()["items"]
        profile = (await client.get(f"/api/v1/customers/{customer['id']}", headers=headers)).json()
        assert {f"{i['kind']}:{i['value']}" for i in profile["identities"]} == {"telegram:700000042", "phone:+79161234567", "whatsapp:RU.79161234567"}
        [conversation] = (await client.get("/api/v1/conversations", headers=headers)).json()["items"]
        shown = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
        assert [m["channel_id"] for m in shown] == [tg["id"], tg["id"], wa["id"]]

        text = "Иван, заказ передан курьеру 🚚"
        reply = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": text, "channel_id": wa["id"]}, headers=headers)
        assert reply.status_code == 201, reply.text
        await ctx.settle()
        [call] = whatsapp.calls
        assert call["path"] == f"/v25.0/{whatsapp.phone_number_id}/messages"
        assert call["authorization"] == f"Bearer {whatsapp.access_token}"
        assert call["body"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "79161234567", "type": "text", "text": {"body": text}}
        delivered = await _message(ctx, reply.json()["id"])
        assert (delivered.status, delivered.provider_message_id) == ("sent", whatsapp.sent[0]["id"])
        assert telegram.sent == []


