"""The VK adapter: the Callback API wire contract (docs/channel-protocols.md §3) — the plain-text
confirmation, the secret in the body, ``ok`` for every accepted event — and ``messages.send``
(form-encoded, errors with HTTP 200, one random_id across retries)."""

from __future__ import annotations

import asyncio
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

from okno.channels.adapters.vk.adapter import (
    ACK,
    MAX_TEXT,
    VkChannel,
    VkConfig,
    classify_error,
    random_id_for,
    recipient_peer,
)
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.base import (
    ChannelNeedsAction,
    InboundItemModel,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    PermanentFailure,
    Recipient,
    RetryLater,
    TemporaryFailure,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from okno.channels.ingest import sender_keys
from okno.kit.time import utcnow
from okno.models import DeliveryJob, InboundItem, Message
from tests.channels.fuzz import json_values, mutated_fixtures
from tests.conftest import LoopbackServer, free_port
from tests.factories import admin_headers

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "vk"
FIXTURES: dict[str, dict[str, Any]] = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES_DIR.glob("*.json"))}
GROUP_ID, SECRET, CODE = 123456, "s3cr3t-callback-key", "a1b2c3d4"
CONFIG = VkConfig(group_id=GROUP_ID, access_token="vk1.a.community-token", secret=SECRET, confirmation_code=CODE)
USER = "111"
_ITEM: TypeAdapter = TypeAdapter(InboundItemModel)


def _request(payload: Any, method: str = "POST") -> WebhookRequest:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return WebhookRequest(method=method, headers={"content-type": "application/json"}, query={}, body=body)


def _handle(payload: Any) -> WebhookResult:
    return VkChannel(1).handle_webhook(CONFIG, _request(payload))


def _refusal(payload: Any, method: str = "POST") -> int:
    with pytest.raises(WebhookRejected) as refused:
        VkChannel(1).handle_webhook(CONFIG, _request(payload, method))
    return refused.value.status_code


def _with(name: str, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(FIXTURES[name])
    payload.update(changes)
    return payload


def _outbound(text: str = "Заказ в пути", *, key: str = "msg-1", identities: tuple = (("vk", USER),)) -> OutboundMessage:
    return OutboundMessage(message_id=1, conversation_id=1, text=text, recipient=Recipient(1, "", identities), idempotency_key=key, attempt=1)


# ---- parsing real payloads -----------------------------------------------------------------


def test_a_text_message_is_keyed_on_its_message_id() -> None:
    result = _handle(FIXTURES["message_new_text"])
    [message] = result.items
    assert isinstance(message, InboundMessage) and result.reply == ACK
    assert (message.provider_id, message.provider_message_id, message.text) == ("vk-msg:4567", "4567", "Привет")
    assert [(s.kind, s.value) for s in message.sender] == [("vk", "111")]
    assert message.context == {"vk": {"event_id": "beea7f04ba6a1553adcc5445943e118d151169ff", "peer_id": 111, "conversation_message_id": 42}}


@pytest.mark.parametrize(
    ("name", "text", "attachment"),
    [
        ("message_new_photo", "Вот так пришла коробка 📦", {
            "kind": "image", "url": "https://sun9-1.userapi.com/impg/box.jpg?size=2560x1920&type=album", "width": 2560, "height": 1920, "vk_id": "photo111_457239017"}),
        ("message_new_audio_message", "", {
            "kind": "voice", "url": "https://psv4.userapi.com/c1/u111/audiomsg/d1/voice.ogg", "link_ogg": "https://psv4.userapi.com/c1/u111/audiomsg/d1/voice.ogg",
            "link_mp3": "https://psv4.userapi.com/c1/u111/audiomsg/d1/voice.mp3", "duration": 7, "mime_type": "audio/ogg", "vk_id": "doc111_645123987"}),
        ("message_new_doc", "Чек", {
            "kind": "file", "url": "https://vk.com/doc111_671234567?hash=3f2e1d&dl=GEYTA:1735689600:abc&api=1&no_preview=1",
            "title": "чек-1042.pdf", "name": "чек-1042.pdf", "ext": "pdf", "size": 48213, "vk_id": "doc111_671234567"}),
    ],
)
def test_media_messages_carry_their_attachment(name: str, text: str, attachment: dict[str, Any]) -> None:
    [message] = _handle(FIXTURES[name]).items
    assert isinstance(message, InboundMessage)
    assert (message.text, message.attachments) == (text, [attachment])


def test_other_attachment_types_are_kept_by_type() -> None:
    payload = copy.deepcopy(FIXTURES["message_new_text"])
    payload["object"]["message"]["attachments"] = [{"type": "sticker", "sticker": {"sticker_id": 9}}, {"type": "photo", "photo": {"sizes": []}}]
    [message] = _handle(payload).items
    assert message.attachments == [{"kind": "other", "vk_type": "sticker"}, {"kind": "other", "vk_type": "photo"}]


def test_a_message_in_the_pre_5_103_shape_is_read_too() -> None:
    payload = _with("message_new_text", v="5.92")
    payload["object"] = payload["object"]["message"]
    assert [m.provider_id for m in _handle(payload).items] == ["vk-msg:4567"]


def _own_message() -> dict[str, Any]:
    payload = copy.deepcopy(FIXTURES["message_new_text"])
    payload["object"]["message"]["out"] = 1
    return payload


def _from_a_community() -> dict[str, Any]:
    payload = copy.deepcopy(FIXTURES["message_new_text"])
    payload["object"]["message"].update(from_id=-777, peer_id=-777)
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        FIXTURES["message_reply"],
        _with("message_reply", type="message_edit"),
        FIXTURES["group_chat"],
        FIXTURES["message_allow"],
        _with("message_allow", type="message_deny", object={"user_id": 111}),
        _with("message_allow", type="wall_post_new", object={"id": 1}),
        _with("message_allow", type=None),
        _own_message(),
        _from_a_community(),
    ],
    ids=["message_reply", "message_edit", "group_chat", "message_allow", "message_deny", "unknown_type", "no_type", "out", "from_community"],
)
def test_events_that_are_not_customer_messages_are_acknowledged_only(payload: dict[str, Any]) -> None:
    result = _handle(payload)
    assert result.items == [] and result.reply == ACK
    assert (result.reply.status_code, result.reply.body, result.reply.media_type) == (200, b"ok", "text/plain")


def test_message_read_is_a_read_status_for_our_message() -> None:
    assert _handle(FIXTURES["message_read"]).items == [InboundStatus(provider_message_id="4571", status="read")]


def test_confirmation_answers_the_code_and_needs_no_secret() -> None:
    result = _handle(FIXTURES["confirmation"])
    assert result.items == []
    assert (result.reply.status_code, result.reply.body, result.reply.media_type) == (200, CODE.encode(), "text/plain")


@pytest.mark.parametrize("group_id", [654321, "123456", 123456.0, None, True])
def test_events_for_another_group_are_refused(group_id: Any) -> None:
    assert _refusal(_with("message_new_text", group_id=group_id)) == 403
    assert _refusal(_with("confirmation", group_id=group_id)) == 403


@pytest.mark.parametrize("secret", ["not-the-secret", "", "S3CR3T", 123, None])
def test_a_wrong_secret_in_the_body_is_refused(secret: Any) -> None:
    assert _refusal(_with("message_new_text", secret=secret)) == 403
    assert _refusal(_with("message_read", secret=secret)) == 403


def test_a_missing_secret_is_refused_even_for_ignored_events() -> None:
    for name in ("message_new_text", "message_reply", "message_allow"):
        payload = copy.deepcopy(FIXTURES[name])
        del payload["secret"]
        assert _refusal(payload) == 403


@pytest.mark.parametrize(("body", "method", "status"), [(b"{not json", "POST", 400), (b"[1, 2]", "POST", 400), (b"", "POST", 400), (b"{}", "GET", 405)])
def test_malformed_requests_are_refused(body: bytes, method: str, status: int) -> None:
    assert _refusal(body, method) == status


@pytest.mark.parametrize("changes", [{"confirmation_code": "a1b2 c3d4"}, {"confirmation_code": "a1b2c3d4\n"}, {"group_id": 0}, {"token": "x"}, {"api_version": "v5"}])
def test_config_refuses_what_vk_would_never_accept(changes: dict[str, Any]) -> None:
    fields = {"group_id": GROUP_ID, "access_token": "t", "secret": SECRET, "confirmation_code": CODE} | changes
    with pytest.raises(ValidationError):
        VkConfig.model_validate(fields)


def test_config_fields_and_defaults() -> None:
    assert list(VkConfig.model_fields) == ["group_id", "access_token", "secret", "confirmation_code", "api_base", "api_version"]
    assert (CONFIG.api_base, CONFIG.api_version) == ("https://api.vk.com", "5.199")


# ---- property: anything VK-ish is parsed or refused with 4xx -------------------------------

SHAPE_KEYS = ["group_id", "type", "event_id", "v", "secret", "object", "message", "client_info", "id", "from_id", "peer_id", "out", "text",
              "attachments", "photo", "sizes", "url", "width", "height", "audio_message", "link_ogg", "link_mp3", "duration", "doc", "title",
              "ext", "size", "read_message_id", "conversation_message_id", "owner_id"]
EVENT_TYPES = ["confirmation", "message_new", "message_read", "message_reply", "message_edit", "message_allow", "message_deny", "photo", "doc"]
JSON_VALUES = json_values(SHAPE_KEYS, [*EVENT_TYPES, "audio_message", SECRET])
ENVELOPES = st.fixed_dictionaries({"group_id": st.just(GROUP_ID), "secret": st.just(SECRET), "type": st.sampled_from(EVENT_TYPES), "object": JSON_VALUES})



def _parsed_or_refused(body: bytes) -> None:
    try:
        result = VkChannel(1).handle_webhook(CONFIG, _request(body))
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500, exc.reason
        return
    assert result.reply.status_code == 200 and result.reply.body in (b"ok", CODE.encode())
    for item in result.items:
        assert _ITEM.validate_python(item.model_dump(mode="json")) == item
        if isinstance(item, InboundMessage):
            assert sender_keys(item, "RU")[0], item.sender


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON_VALUES | ENVELOPES | mutated_fixtures(FIXTURES, JSON_VALUES))
def test_any_json_is_parsed_or_refused_with_4xx(payload: Any) -> None:
    _parsed_or_refused(orjson.dumps(payload))


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_4xx(body: bytes) -> None:
    _parsed_or_refused(body)


# ---- sending: random_id, addressing, error mapping -----------------------------------------


def test_random_id_is_a_stable_nonzero_int32_per_message_and_chunk() -> None:
    ids = {random_id_for(f"key-{n}", chunk) for n in range(200) for chunk in range(3)}
    assert len(ids) == 600 and all(0 < i <= 2**31 - 1 for i in ids)
    assert random_id_for("key-7", 1) == random_id_for("key-7", 1) != random_id_for("key-7", 0)


@pytest.mark.parametrize("identities", [(("telegram", "42"),), (("vk", "durov"),), (("vk", "2000000005"),)])
def test_a_customer_without_a_vk_user_id_cannot_be_written_to(identities: tuple) -> None:
    with pytest.raises(PermanentFailure, match="VK"):
        recipient_peer(Recipient(customer_id=1, name="", identities=identities))


@pytest.mark.parametrize(
    ("code", "kind", "detail"),
    [
        (6, RetryLater, 1.0),
        (9, RetryLater, 60.0),
        (10, TemporaryFailure, "VK 10: boom"),
        (5, ChannelNeedsAction, "VK 5: boom (check the community access token)"),
        (14, ChannelNeedsAction, "VK 14: boom (VK asks for a captcha: the community token is sending too much)"),
        (27, ChannelNeedsAction, "VK 27: boom (the method is unavailable with this community token)"),
        (28, ChannelNeedsAction, "VK 28: boom (application authorization failed: check the token)"),
        (900, PermanentFailure, "VK 900: boom (the customer has blacklisted the community)"),
        (901, PermanentFailure, "VK 901: boom (the customer has not allowed messages from the community)"),
        (902, PermanentFailure, "VK 902: boom (the customer's privacy settings forbid messages from the community)"),
        (100, PermanentFailure, "VK 100: boom"),
    ],
)
def test_vk_errors_map_to_delivery_errors(code: int, kind: type, detail: Any) -> None:
    error = classify_error({"error_code": code, "error_msg": "boom", "request_params": []})
    assert type(error) is kind
    assert (error.after_seconds if isinstance(error, RetryLater) else error.reason) == detail


@pytest.mark.parametrize(("status", "body"), [(502, b"<html>Bad Gateway</html>"), (200, b"<html>maintenance</html>"), (200, b'{"response": "x"}')])
async def test_http_5xx_and_unreadable_answers_are_temporary(status: int, body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(TemporaryFailure):
            await VkChannel(1).send(CONFIG, _outbound(), http)


async def test_network_errors_are_temporary() -> None:
    config = CONFIG.model_copy(update={"api_base": f"http://127.0.0.1:{free_port()}"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(TemporaryFailure):
            await VkChannel(1).send(config, _outbound(), http)


def _fake_with_server() -> tuple[FakeVk, LoopbackServer]:
    fake = FakeVk()
    server = LoopbackServer(fake.app)
    fake.base_url = server.url
    return fake, server


async def test_a_long_text_is_split_and_a_resend_is_deduplicated_by_vk() -> None:
    fake, server = _fake_with_server()
    long_text = ("Слово " * 1000).strip()
    async with server, httpx.AsyncClient() as http:
        config = VkConfig.model_validate(fake.channel_config())
        first = await VkChannel(1).send(config, _outbound(long_text, key="long"), http)
        again = await VkChannel(1).send(config, _outbound(long_text, key="long"), http)
    assert len(fake.sent) == 2 and all(len(t) <= MAX_TEXT for t in fake.sent_texts())
    assert " ".join(fake.sent_texts()) == long_text
    assert len({s["random_id"] for s in fake.sent}) == 2
    assert first == again and first.provider_message_id == str(fake.sent[-1]["id"])
    assert len(fake.calls) == 4


async def test_the_fake_does_not_read_a_json_body_like_vk() -> None:
    fake, server = _fake_with_server()
    async with server, httpx.AsyncClient() as http:
        payload = {"peer_id": 111, "random_id": 1, "message": "hi", "v": "5.199", "access_token": fake.access_token}
        as_json = (await http.post(f"{server.url}/method/messages.send", json=payload)).json()
        bad_token = (await http.post(f"{server.url}/method/messages.send", data={**payload, "access_token": "nope"})).json()
    assert as_json["error"]["error_code"] == 5 and "no access_token" in as_json["error"]["error_msg"]
    assert bad_token["error"]["error_code"] == 5 and "invalid access_token" in bad_token["error"]["error_msg"]
    assert fake.sent == []


# ---- over HTTP, through okno ---------------------------------------------------------------


@pytest.fixture
async def vk(client, ctx) -> AsyncIterator[SimpleNamespace]:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    fake = FakeVk(group_id=GROUP_ID, secret=SECRET, confirmation_code=CODE)
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "vk", "name": "ВКонтакте", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield SimpleNamespace(fake=fake, channel=channel, headers=headers)


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _inbound_count(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(InboundItem))


async def _conversation(ctx, vk: SimpleNamespace) -> int:  # noqa: ANN001
    assert (await vk.fake.deliver_text(USER, "Здравствуйте")).content == b"ok"
    await ctx.settle()
    return (await _messages(ctx))[-1].conversation_id


async def _reply(client: httpx.AsyncClient, vk: SimpleNamespace, conversation_id: int, text: str = "Заказ в пути 🚚") -> int:
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "channel_id": vk.channel["id"]}, headers=vk.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _settled(ctx, message_id: int, timeout: float = 5.0) -> Message:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await ctx.settle()
        message = next(m for m in await _messages(ctx) if m.id == message_id)
        if message.status in ("sent", "failed", "read") or asyncio.get_running_loop().time() > deadline:
            return message
        await asyncio.sleep(0.02)


async def test_confirmation_is_answered_with_the_exact_code_as_plain_text(ctx, vk) -> None:  # noqa: ANN001
    response = await vk.fake.confirm()
    assert response.status_code == 200 and response.content == CODE.encode()
    assert response.headers["content-type"].split(";")[0] == "text/plain"
    assert await _inbound_count(ctx) == 0


async def test_an_event_for_another_group_is_refused(ctx, vk) -> None:  # noqa: ANN001
    assert (await vk.fake.deliver_event(_with("message_new_text", group_id=GROUP_ID + 1))).status_code == 403
    assert (await vk.fake.deliver_event(_with("confirmation", group_id=GROUP_ID + 1))).status_code == 403


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(ctx, vk, secret: str | None) -> None:  # noqa: ANN001
    payload = _with("message_new_text", secret=secret)
    if secret is None:
        del payload["secret"]
    assert (await vk.fake.deliver_event(payload)).status_code == 403
    assert (await vk.fake.deliver_forged_text(USER, "I am not VK")).status_code == 403
    await ctx.settle()
    assert await _inbound_count(ctx) == 0 and await _messages(ctx) == []


async def test_every_accepted_event_is_answered_exactly_ok(ctx, vk) -> None:  # noqa: ANN001
    unknown = _with("message_allow", type="group_join", object={"user_id": 111, "join_type": "join"})
    deny = _with("message_allow", type="message_deny", object={"user_id": 111})
    events = [FIXTURES[n] for n in sorted(FIXTURES) if n != "confirmation"] + [unknown, deny]
    for event in events:
        response = await vk.fake.deliver_event(event)
        assert (response.status_code, response.content, response.headers["content-type"]) == (200, b"ok", "text/plain"), event["type"]
    await ctx.settle()
    assert sorted(m.text for m in await _messages(ctx)) == sorted(["Вот так пришла коробка 📦", "", "Чек", "Привет"])


async def test_echoes_and_group_chats_are_ignored(client, ctx, vk) -> None:  # noqa: ANN001
    conversation_id = await _conversation(ctx, vk)
    message_id = await _reply(client, vk, conversation_id, "Ответ оператора")
    assert (await _settled(ctx, message_id)).status == "sent"
    for response in (await vk.fake.deliver_echo("Ответ оператора"), await vk.fake.deliver_event(FIXTURES["message_reply"]),
                     await vk.fake.deliver_event(FIXTURES["group_chat"])):
        assert response.content == b"ok"
    await ctx.settle()
    assert [(m.direction, m.text) for m in await _messages(ctx)] == [("in", "Здравствуйте"), ("out", "Ответ оператора")]
    assert await _inbound_count(ctx) == 1


async def test_an_event_redelivered_in_a_batch_makes_one_message(ctx, vk) -> None:  # noqa: ANN001
    assert (await vk.fake.deliver_event(FIXTURES["message_new_text"])).content == b"ok"
    again = await asyncio.gather(*(vk.fake.redeliver_last() for _ in range(4)))
    assert [r.content for r in again] == [b"ok"] * 4
    same_message_new_event = _with("message_new_text", event_id="f" * 40)
    assert (await vk.fake.deliver_event(same_message_new_event)).content == b"ok"
    await ctx.settle()
    assert [m.text for m in await _messages(ctx)] == ["Привет"]


async def test_outbound_is_form_encoded_with_version_peer_random_id_and_token(client, ctx, vk) -> None:  # noqa: ANN001
    message_id = await _reply(client, vk, await _conversation(ctx, vk), "Иван, заказ передан курьеру 🚚")
    message = await _settled(ctx, message_id)
    [call] = vk.fake.calls
    assert call["content_type"] == "application/x-www-form-urlencoded"
    assert (call["method"], call["v"], call["peer_id"], call["access_token"]) == ("messages.send", "5.199", USER, vk.fake.access_token)
    assert call["message"] == "Иван, заказ передан курьеру 🚚" and 0 < int(call["random_id"]) < 2**31
    assert (message.status, message.provider_message_id) == ("sent", str(vk.fake.sent[0]["id"]))


async def test_a_retry_reuses_the_random_id_and_vk_sends_once(client, ctx, vk) -> None:  # noqa: ANN001
    conversation_id = await _conversation(ctx, vk)
    vk.fake.fail_next_send("server_error")
    message = await _settled(ctx, await _reply(client, vk, conversation_id))
    assert message.status == "sent", message.error
    assert len(vk.fake.calls) == 2 and len({c["random_id"] for c in vk.fake.calls}) == 1
    assert len(vk.fake.sent) == 1 and message.provider_message_id == str(vk.fake.sent[0]["id"])


@pytest.mark.parametrize(("retry_after", "code", "wait"), [(1, 6, 1.0), (7, 9, 60.0)])
async def test_rate_limits_are_retried_after_vks_wait(client, ctx, vk, retry_after: int, code: int, wait: float) -> None:  # noqa: ANN001
    conversation_id = await _conversation(ctx, vk)
    vk.fake.fail_next_send("rate_limit", retry_after=retry_after)
    message_id = await _reply(client, vk, conversation_id)
    started = utcnow()
    await ctx.settle()
    async with ctx.db.reading() as session:
        job = await session.scalar(select(DeliveryJob).where(DeliveryJob.message_id == message_id))
    assert (job.status, job.attempts) == ("pending", 1) and job.last_error.startswith(f"VK {code}: ")
    assert started + timedelta(seconds=wait - 0.5) <= job.next_attempt_at <= utcnow() + timedelta(seconds=wait)
    assert vk.fake.sent == []
    async with ctx.db.transaction() as session:  # let VK's wait pass
        await session.execute(update(DeliveryJob).where(DeliveryJob.id == job.id).values(next_attempt_at=utcnow()))
    assert (await _settled(ctx, message_id)).status == "sent" and len(vk.fake.sent) == 1


async def test_error_901_fails_the_message_with_a_readable_reason(client, ctx, vk) -> None:  # noqa: ANN001
    conversation_id = await _conversation(ctx, vk)
    vk.fake.fail_next_send("permanent")
    message = await _settled(ctx, await _reply(client, vk, conversation_id))
    assert message.status == "failed"
    assert message.error == "VK 901: Can't send messages for users without permission (the customer has not allowed messages from the community)"
    assert vk.fake.sent == [] and len(vk.fake.calls) == 1


async def test_message_read_marks_the_last_chunk_of_our_reply_read(client, ctx, vk) -> None:  # noqa: ANN001
    long_text = ("Подробности заказа. " * 300).strip()
    message = await _settled(ctx, await _reply(client, vk, await _conversation(ctx, vk), long_text))
    assert message.status == "sent" and len(vk.fake.sent) == 2
    assert message.provider_message_id == str(vk.fake.sent[-1]["id"])
    assert (await vk.fake.deliver_status(message.provider_message_id, "read")).content == b"ok"
    assert (await _settled(ctx, message.id)).status == "read"
