"""The MAX Bot API adapter: the wire contract (docs/channel-protocols.md §4), real payload shapes,
contact cards, Start presses, and sending with the bare-token ``Authorization`` header."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select, update

from okno.channels.adapters.max.adapter import (
    TOKEN_REJECTED,
    MaxChannel,
    MaxConfig,
    classify_error,
    vcard_field,
)
from okno.channels.adapters.max.fake import FakeMax
from okno.channels.base import (
    ChannelNeedsAction,
    InboundItemModel,
    InboundMessage,
    OutboundMessage,
    PermanentFailure,
    Recipient,
    RetryLater,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
)
from okno.channels.ingest import sender_keys
from okno.kit.time import utcnow
from okno.models import DeliveryJob, InboundItem, Message
from tests.channels.fuzz import json_values, mutated_fixtures
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "max"
FIXTURES: dict[str, dict[str, Any]] = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES_DIR.glob("*.json"))}
SECRET = "okno-max-secret-0123"
CONFIG = MaxConfig(token="max-token", secret=SECRET)
USER = "900000001"
_ITEM: TypeAdapter = TypeAdapter(InboundItemModel)


def _request(body: bytes, secret: str | None = SECRET, method: str = "POST") -> WebhookRequest:
    headers = {"content-type": "application/json"} | ({"x-max-bot-api-secret": secret} if secret is not None else {})
    return WebhookRequest(method=method, headers=headers, query={}, body=body)


def _parse(payload: Any) -> list[Any]:
    return MaxChannel(1).handle_webhook(CONFIG, _request(orjson.dumps(payload))).items


# ---- parsing real payloads -----------------------------------------------------------------


def test_a_text_message_is_keyed_on_its_mid() -> None:
    [message] = _parse(FIXTURES["text"])
    assert isinstance(message, InboundMessage)
    assert (message.provider_id, message.provider_message_id) == ("mid:mid.0000000000abcdef", "mid.0000000000abcdef")
    assert [(s.kind, s.value) for s in message.sender] == [("max", "123456789")]
    assert (message.sender_name, message.text, message.attachments) == ("Иван Петров", "Здравствуйте", [])
    assert message.context == {"max": {"chat_id": 987654321, "locale": "ru"}}


def test_an_image_carries_its_url_photo_id_and_token() -> None:
    [message] = _parse(FIXTURES["image"])
    image = FIXTURES["image"]["message"]["body"]["attachments"][0]["payload"]
    assert message.text == "Вот так пришла коробка 📦"
    assert message.attachments == [{"kind": "image", "url": image["url"], "photo_id": 5412367890123, "token": image["token"]}]


def test_the_senders_own_contact_becomes_his_phone_identity() -> None:
    [message] = _parse(FIXTURES["own_contact"])
    assert [(s.kind, s.value) for s in message.sender] == [("max", "123456789"), ("phone", "+79161234567")]
    assert message.attachments == [{"kind": "contact", "phone": "+79161234567", "own": True}] and message.text == ""  # shown, not empty


def test_someone_elses_contact_is_only_an_attachment() -> None:
    [message] = _parse(FIXTURES["other_contact"])
    assert [(s.kind, s.value) for s in message.sender] == [("max", "123456789")]
    assert message.attachments == [{"kind": "contact", "phone": "+79035550101", "name": "Мария Сидорова"}]


def test_own_contact_without_max_info_is_not_trusted_as_the_senders_phone() -> None:
    payload = copy.deepcopy(FIXTURES["own_contact"])
    del payload["message"]["body"]["attachments"][0]["payload"]["max_info"]
    [message] = _parse(payload)
    assert [s.kind for s in message.sender] == ["max"]
    assert message.attachments == [{"kind": "contact", "phone": "+79161234567", "name": "Иван Петров"}]


def test_every_attachment_kind_maps_to_okno_kinds() -> None:
    [message] = _parse(FIXTURES["mixed_attachments"])
    assert message.attachments == [
        {"kind": "voice", "url": "https://vd.oneme.ru/audio/7c1e6a.ogg", "token": "aUdIoToKeN1", "transcription": "Где мой заказ"},
        {"kind": "file", "max_type": "video", "url": "https://vd.oneme.ru/video/2f9b41.mp4", "token": "vIdEoToKeN2"},
        {"kind": "file", "max_type": "file", "filename": "чек-1042.pdf", "size": 48213, "url": "https://fd.oneme.ru/file/8d3e.pdf", "token": "fIlEtOkEn3"},
        {"kind": "other", "max_type": "sticker"},
        {"kind": "other", "max_type": "location"},
        {"kind": "other", "max_type": "share"},
    ]


def test_bot_started_is_a_touch_without_text() -> None:
    [touch] = _parse(FIXTURES["bot_started"])
    assert (touch.provider_id, touch.provider_message_id, touch.text) == ("bot_started:123456789:1735689500000", None, "")
    assert [(s.kind, s.value) for s in touch.sender] == [("max", "123456789")] and touch.sender_name == "Иван Петров"
    assert touch.context == {"max": {"event": "bot_started", "chat_id": 987654321, "payload": "promo_2025"}}


@pytest.mark.parametrize("name", ["group_chat", "message_edited"])
def test_group_chats_and_other_update_types_are_acknowledged_not_stored(name: str) -> None:
    assert _parse(FIXTURES[name]) == []


def test_messages_from_bots_are_ignored() -> None:
    payload = copy.deepcopy(FIXTURES["text"])
    payload["message"]["sender"]["is_bot"] = True
    assert _parse(payload) == []


@pytest.mark.parametrize(
    ("vcf", "prop", "value"),
    [
        ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Иван\r\nTEL;TYPE=cell:+7 916 123-45-67\r\nEND:VCARD", "TEL", "+7 916 123-45-67"),
        ("BEGIN:VCARD\nVERSION:4.0\ntel;VALUE=uri;TYPE=\"voice,cell\":tel:+79161234567\nEND:VCARD", "TEL", "+79161234567"),
        ("BEGIN:VCARD\r\nitem1.TEL;type=CELL:+7916\r\n 1234567\r\nitem1.X-ABLabel:mobile\r\nEND:VCARD", "TEL", "+79161234567"),
        ("BEGIN:VCARD\r\nTEL;TYPE=home:\r\nTEL;TYPE=cell:89161234567\r\nEND:VCARD", "TEL", "89161234567"),
        ("BEGIN:VCARD\r\nFN:Петров\\, Иван\r\nEND:VCARD", "FN", "Петров, Иван"),
        ("BEGIN:VCARD\r\nFN:Иван\r\nEND:VCARD", "TEL", None),
        ("", "TEL", None),
    ],
)
def test_vcard_fields_are_read_robustly(vcf: str, prop: str, value: str | None) -> None:
    assert vcard_field(vcf, prop) == value


# ---- verification and malformed requests --------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (_request(b"{}", secret=None), 401),
        (_request(b"{}", secret="okno-max-secreT"), 403),
        (_request(b"{}", secret="ёжик"), 403),
        (_request(b"{}", method="GET"), 405),
        (_request(b"{not json"), 400),
        (_request(b"[]"), 422),
        (_request(b'{"update_type":"message_created"}'), 422),
        (_request(b'{"update_type":"message_created","message":{"recipient":{"chat_type":"dialog"},"sender":{"user_id":"1"},"body":{"mid":"m"}}}'), 422),
        (_request(b'{"update_type":"message_created","message":{"recipient":{"chat_type":"dialog"},"sender":{"user_id":1},"body":{}}}'), 422),
        (_request(b'{"update_type":"bot_started","user":{"user_id":1}}'), 422),
    ],
)
def test_bad_requests_are_refused_with_a_reason(request_: WebhookRequest, status: int) -> None:
    with pytest.raises(WebhookRejected) as refused:
        MaxChannel(1).handle_webhook(CONFIG, request_)
    assert refused.value.status_code == status and refused.value.reason


@pytest.mark.parametrize("secret", ["abcd", "a" * 257, "with space", "ключ12345", "semi;colon"])
def test_the_config_refuses_secrets_max_would_refuse(secret: str) -> None:
    with pytest.raises(ValidationError):
        MaxConfig(token="t", secret=secret)
    with pytest.raises(ValidationError):
        MaxConfig(token="t", secret=SECRET, extra_field=1)
    assert MaxConfig(token="t", secret="a-B_9" + "x" * 251).api_base == "https://platform-api2.max.ru"


# ---- any JSON with the right secret: parsed or refused with 4xx, never a crash -------------

SHAPE_KEYS = ["update_type", "timestamp", "user_locale", "message", "sender", "recipient", "body", "user_id", "first_name",
              "last_name", "name", "is_bot", "chat_id", "chat_type", "mid", "seq", "text", "attachments", "type", "payload",
              "url", "token", "photo_id", "vcf_info", "max_info", "hash", "filename", "size", "transcription", "user"]
JSON_VALUES = json_values(SHAPE_KEYS, ["message_created", "bot_started", "dialog", "chat", "contact", "image", "audio", "video", "file", "sticker",
                       "mid.0000000000abcdef", "BEGIN:VCARD\r\nTEL:+79161234567\r\nEND:VCARD", "TEL;TYPE=cell:\x00+7"])



def _parsed_or_refused(body: bytes) -> None:
    try:
        result = MaxChannel(1).handle_webhook(CONFIG, _request(body))
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500, exc.reason
        return
    for item in result.items:
        assert _ITEM.validate_python(item.model_dump(mode="json")) == item
        assert isinstance(item, InboundMessage) and sender_keys(item, "RU")[0], item.sender


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON_VALUES | st.fixed_dictionaries({"update_type": st.sampled_from(["message_created", "bot_started"]), "message": JSON_VALUES, "user": JSON_VALUES}) | mutated_fixtures(FIXTURES, JSON_VALUES))
def test_any_json_with_the_secret_is_parsed_or_refused_with_4xx(payload: Any) -> None:
    _parsed_or_refused(orjson.dumps(payload))


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes_with_the_secret_are_parsed_or_refused_with_4xx(body: bytes) -> None:
    _parsed_or_refused(body)


# ---- sending: error mapping and addressing ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "detail"),
    [
        (429, {"retry-after": "9"}, {"code": "too.many.requests", "message": "slow down"}, RetryLater, 9.0),
        (429, {}, {"code": "too.many.requests", "message": "slow down"}, RetryLater, 1.0),
        (429, {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, {}, RetryLater, 1.0),
        (400, {}, {"code": "attachment.not.ready", "message": "not processed"}, RetryLater, 2.0),
        (200, {}, {"code": "attachment.not.ready", "message": "not processed"}, RetryLater, 2.0),
        (401, {}, {"code": "verify.token", "message": "Invalid access_token"}, ChannelNeedsAction, TOKEN_REJECTED),
        (400, {}, {"code": "verify.token", "message": "Invalid access_token"}, ChannelNeedsAction, TOKEN_REJECTED),
        (400, {}, {"code": "proto.payload", "message": "text too long"}, PermanentFailure, "MAX 400 proto.payload: text too long"),
        (403, {}, {"code": "chat.denied", "message": "blocked"}, PermanentFailure, "MAX 403 chat.denied: blocked"),
        (404, {}, {"code": "not.found", "message": "no chat"}, PermanentFailure, "MAX 404 not.found: no chat"),
        (503, {}, {}, TemporaryFailure, "MAX 503: Service Unavailable"),
        (500, {}, {"code": "internal", "message": "oops"}, TemporaryFailure, "MAX 500 internal: oops"),
    ],
)
def test_max_errors_map_to_delivery_errors(status: int, headers: dict, body: dict, kind: type, detail: Any) -> None:
    error = classify_error(status, httpx.Headers(headers), body)
    assert type(error) is kind
    assert (error.after_seconds if isinstance(error, RetryLater) else error.reason) == detail


def _outbound(text: str, identities: tuple = (("max", USER),)) -> OutboundMessage:
    return OutboundMessage(message_id=1, conversation_id=1, text=text, recipient=Recipient(1, "", identities), idempotency_key="k", attempt=1)


async def test_a_customer_without_a_max_identity_cannot_be_written_to() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentFailure, match="no MAX identity"):
            await MaxChannel(1).send(CONFIG, _outbound("hi", (("telegram", "42"), ("phone", "+79161234567"))), http)


async def test_network_errors_are_temporary() -> None:
    config = CONFIG.model_copy(update={"api_base": f"http://127.0.0.1:{free_port()}"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(TemporaryFailure):
            await MaxChannel(1).send(config, _outbound("hi"), http)


async def test_long_text_is_split_and_the_last_mid_is_kept() -> None:
    fake = FakeMax()
    async with LoopbackServer(fake.app) as server, httpx.AsyncClient() as http:
        fake.base_url = server.url
        text = " ".join(["слово"] * 1500)  # 8999 characters
        result = await MaxChannel(1).send(MaxConfig.model_validate(fake.channel_config()), _outbound(text), http)
    assert len(fake.sent) == 3 and all(len(t) <= 4000 for t in fake.sent_texts())
    assert " ".join(fake.sent_texts()) == text and result.provider_message_id == fake.sent[-1]["mid"]


async def test_the_fake_refuses_a_bearer_token_like_max_does() -> None:
    fake = FakeMax()
    async with LoopbackServer(fake.app) as server, httpx.AsyncClient(base_url=server.url) as http:
        bearer = await http.post("/messages", params={"user_id": USER}, json={"text": "hi"}, headers={"Authorization": f"Bearer {fake.token}"})
        bare = await http.post("/messages", params={"user_id": USER}, json={"text": "hi"}, headers={"Authorization": fake.token})
        nobody = await http.post("/messages", json={"text": "hi"}, headers={"Authorization": fake.token})
    assert (bearer.status_code, bearer.json()) == (401, {"code": "verify.token", "message": "Invalid access_token"})
    assert bare.status_code == 200 and bare.json()["message"]["body"]["mid"].startswith("mid.")
    assert nobody.status_code == 400 and fake.sent_texts() == ["hi"]


async def test_the_fake_keeps_webhook_subscriptions() -> None:
    fake = FakeMax()
    async with LoopbackServer(fake.app) as server, httpx.AsyncClient(base_url=server.url, headers={"Authorization": fake.token}) as http:
        subscription = {"url": "https://okno.example/webhooks/7", "update_types": ["message_created", "bot_started"], "secret": SECRET}
        assert (await http.post("/subscriptions", json=subscription)).json() == {"success": True}
        [shown] = (await http.get("/subscriptions")).json()["subscriptions"]
    assert shown["url"] == subscription["url"] and shown["update_types"] == subscription["update_types"] and "secret" not in shown
    assert fake.subscriptions[0]["secret"] == SECRET


# ---- over HTTP, through okno ---------------------------------------------------------------


@pytest.fixture
async def mx(client, ctx) -> AsyncIterator[SimpleNamespace]:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    fake = FakeMax()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "max", "name": "MAX", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield SimpleNamespace(fake=fake, channel=channel, headers=headers)


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _message(ctx, message_id: int) -> Message:  # noqa: ANN001
    return next(m for m in await _messages(ctx) if m.id == message_id)


async def _customers_by(client: httpx.AsyncClient, mx: SimpleNamespace, identity: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/customers", params={"identity": identity}, headers=mx.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _conversation_with(ctx, mx: SimpleNamespace) -> int:  # noqa: ANN001
    assert (await mx.fake.deliver_text(USER, "Здравствуйте")).status_code == 200
    await ctx.settle()
    return (await _messages(ctx))[-1].conversation_id


async def _reply(client: httpx.AsyncClient, mx: SimpleNamespace, conversation_id: int, text: str = "Заказ в пути 🚚") -> int:
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}, headers=mx.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _job_of(ctx, message_id: int) -> DeliveryJob:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(DeliveryJob).where(DeliveryJob.message_id == message_id))


async def _let_the_hinted_time_pass(ctx, job: DeliveryJob) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        await session.execute(update(DeliveryJob).where(DeliveryJob.id == job.id).values(next_attempt_at=utcnow()))


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
async def test_a_request_without_the_right_secret_stores_nothing(ctx, mx, secret: str | None) -> None:  # noqa: ANN001
    body = orjson.dumps(mx.fake.message_update(USER, text="подделка"))
    headers = {"content-type": "application/json"} | ({"x-max-bot-api-secret": secret} if secret else {})
    response = await mx.fake.post_webhook(body, headers)
    assert response.status_code == (401 if secret is None else 403)
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InboundItem)) == 0
    assert await _messages(ctx) == []


async def test_own_contact_keeps_the_phone_as_evidence(client, ctx, mx) -> None:  # noqa: ANN001
    """The card's TEL is text the client composed and okno can't check its hash: the number is
    evidence for the matcher, not an identity (docs/identity-proof.md)."""
    assert (await mx.fake.deliver_text(USER, "Здравствуйте")).status_code == 200
    assert (await mx.fake.deliver_contact(USER, "+79161234567")).status_code == 200
    await ctx.settle()
    assert await _customers_by(client, mx, "phone:+79161234567") == []
    [by_max] = await _customers_by(client, mx, f"max:{USER}")
    assert by_max["attributes"]["unverified_identities"] == ["phone:+79161234567"]
    contact_message = (await _messages(ctx))[-1]
    assert contact_message.attachments == [{"kind": "contact", "phone": "+79161234567", "own": True}] and contact_message.customer_id == by_max["id"]


async def test_someone_elses_contact_is_kept_as_an_attachment_only(client, ctx, mx) -> None:  # noqa: ANN001
    assert (await mx.fake.deliver_contact(USER, "+79035550101", own=False)).status_code == 200
    await ctx.settle()
    assert await _customers_by(client, mx, "phone:+79035550101") == []
    [message] = await _messages(ctx)
    assert message.attachments == [{"kind": "contact", "phone": "+79035550101", "name": "Мария Сидорова"}]
    [customer] = await _customers_by(client, mx, f"max:{USER}")
    profile = (await client.get(f"/api/v1/customers/{customer['id']}", headers=mx.headers)).json()
    assert {f"{i['kind']}:{i['value']}" for i in profile["identities"]} == {f"max:{USER}"}


async def test_pressing_start_opens_a_conversation_with_a_touch(client, ctx, mx) -> None:  # noqa: ANN001
    assert (await mx.fake.deliver_bot_started(USER, payload="promo_2025")).status_code == 200
    assert (await mx.fake.redeliver_last()).status_code == 200
    await ctx.settle()
    [touch] = await _messages(ctx)
    assert (touch.text, touch.direction, touch.channel_id) == ("", "in", mx.channel["id"])
    [customer] = await _customers_by(client, mx, f"max:{USER}")
    assert customer["id"] == touch.customer_id
    [conversation] = (await client.get("/api/v1/conversations", headers=mx.headers)).json()["items"]
    assert conversation["id"] == touch.conversation_id


async def test_a_reply_through_the_api_reaches_max_with_the_bare_token(client, ctx, mx) -> None:  # noqa: ANN001
    message_id = await _reply(client, mx, await _conversation_with(ctx, mx), "Иван, заказ передан курьеру 🚚")
    await ctx.settle()
    sent = await _message(ctx, message_id)
    assert (sent.status, sent.provider_message_id) == ("sent", mx.fake.sent[0]["mid"])
    [call] = mx.fake.calls
    assert call["authorization"] == mx.fake.token and not call["authorization"].startswith("Bearer")
    assert call["query"] == {"user_id": USER} and call["body"] == {"text": "Иван, заказ передан курьеру 🚚"}


async def test_rate_limit_is_retried_after_the_hint(client, ctx, mx) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, mx)
    mx.fake.fail_next_send("rate_limit", retry_after=9)
    started = utcnow()
    message_id = await _reply(client, mx, conversation_id)
    await ctx.settle()
    job = await _job_of(ctx, message_id)
    assert (job.status, job.attempts) == ("pending", 1) and job.next_attempt_at >= started + timedelta(seconds=8)
    await _let_the_hinted_time_pass(ctx, job)
    await ctx.settle()
    assert (await _message(ctx, message_id)).status == "sent" and len(mx.fake.calls) == 2


async def test_attachment_not_ready_is_retried(client, ctx, mx) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, mx)
    mx.fake.fail_next_send_with(400, "attachment.not.ready", "Key: errors.process.attachment.file.not.processed")
    started = utcnow()
    message_id = await _reply(client, mx, conversation_id)
    await ctx.settle()
    job = await _job_of(ctx, message_id)
    assert (job.status, job.attempts) == ("pending", 1) and job.next_attempt_at >= started + timedelta(seconds=1.5)
    await _let_the_hinted_time_pass(ctx, job)
    await ctx.settle()
    assert (await _message(ctx, message_id)).status == "sent" and mx.fake.sent_texts() == ["Заказ в пути 🚚"]


async def test_a_permanent_refusal_fails_the_message_with_maxs_reason(client, ctx, mx) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, mx)
    mx.fake.fail_next_send("permanent")
    message_id = await _reply(client, mx, conversation_id)
    await ctx.settle()
    failed = await _message(ctx, message_id)
    assert (failed.status, failed.error) == ("failed", "MAX 403 chat.denied: chat.denied: the user has blocked the bot")
    assert mx.fake.sent == [] and len(mx.fake.calls) == 1


async def test_a_revoked_token_fails_the_message_and_asks_for_action(client, ctx, mx) -> None:  # noqa: ANN001
    conversation_id = await _conversation_with(ctx, mx)
    mx.fake.token = "rotated-by-the-owner"
    message_id = await _reply(client, mx, conversation_id)
    await ctx.settle()
    assert ((m := await _message(ctx, message_id)).status, m.error) == ("failed", TOKEN_REJECTED)
