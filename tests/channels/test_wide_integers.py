"""Integers okno stores in an item's JSON stay within the signed 64-bit range (what both databases'
integer columns and orjson, which reads the stored items back, take exactly). A webhook whose item
carries a wider one is refused with a 422 naming the field, and nothing is stored; the built-in
adapters drop such a value where they read it; a wide but legal one reads back as the same integer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter
from sqlalchemy import func, select

from okno.channels import registry
from okno.channels.adapters.google_reviews.adapter import _review
from okno.channels.adapters.telegram.adapter import TelegramChannel
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.vk.adapter import VkChannel, VkConfig
from okno.channels.base import Capabilities, InboundMessage, SenderIdentity, WebhookRequest, WebhookResult
from okno.channels.int_range import out_of_range_int
from okno.channels.interactive import Answer
from okno.models import InboundItem, TimelineEvent
from tests.factories import admin_headers

INT64_MAX = 2**63 - 1
_BODY: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class _NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PassThroughChannel:
    """A plugin's adapter that keeps its provider's extras as given: ``context`` of the body, read
    by pydantic as the API channel reads its bodies (integers of any width, where orjson reads
    one past 64 bits as a float)."""

    kind: ClassVar[str] = "passthrough-test"
    title: ClassVar[str] = "Pass-through"
    config_model: ClassVar[type[BaseModel]] = _NoConfig
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=1000, starts_conversations=True)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: _NoConfig, request: WebhookRequest) -> WebhookResult:
        body = _BODY.validate_json(request.body)
        return WebhookResult(
            items=[
                InboundMessage(
                    provider_id=item["id"], sender=[SenderIdentity(kind="phone", value="+79160000001")], text="hi", context=item.get("context", {})
                )
                for item in body["items"]
            ]
        )


@pytest.fixture
def passthrough_kind() -> Iterator[type]:
    registry.register_adapter(PassThroughChannel)
    try:
        yield PassThroughChannel
    finally:
        registry.ADAPTERS.pop(PassThroughChannel.kind, None)


async def _channel(client, ctx) -> int:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    response = await client.post("/api/v1/channels", json={"kind": PassThroughChannel.kind, "name": "extras", "config": {}}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _stored(ctx) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(InboundItem))


@pytest.mark.parametrize("wide", [2**63, 2**70, -(2**63) - 1])
async def test_a_webhook_item_with_an_integer_past_64_bits_is_refused_naming_the_field(passthrough_kind, client, ctx, wide: int) -> None:  # noqa: ANN001
    """2**70 would be stored as given and read back from the raw items as a float; 2**63 is past
    the integer columns. Either way the whole request is refused, the provider told where."""
    channel_id = await _channel(client, ctx)
    body = b'{"items": [{"id": "ok", "context": {"n": 1}}, {"id": "wide", "context": {"order": {"lines": [7, %d]}}}]}' % wide
    response = await client.post(f"/webhooks/{channel_id}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "context.order.lines.1" in response.json()["detail"] and "64-bit" in response.json()["detail"]
    assert await _stored(ctx) == 0


async def test_a_legal_wide_integer_reads_back_the_same_from_the_raw_items(passthrough_kind, client, ctx, monkeypatch) -> None:  # noqa: ANN001
    """Stored pending (the inline pipeline fails once), then processed from ``inbound_items``: the
    extremes of the signed 64-bit range come back as the same integers, never as floats."""
    channel_id = await _channel(client, ctx)
    real_apply, calls = ctx.ingest.apply, []

    async def failing_once(session, prepared):  # noqa: ANN001, ANN202
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("pipeline bug")
        return await real_apply(session, prepared)

    monkeypatch.setattr(ctx.ingest, "apply", failing_once)
    extras = {"big": INT64_MAX, "small": -INT64_MAX - 1, "near": [2**53 + 1]}
    body = orjson.dumps({"items": [{"id": "edge", "context": extras}]})
    response = await client.post(f"/webhooks/{channel_id}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    async with ctx.db.reading() as session:
        (stored,) = (await session.scalars(select(InboundItem.item))).all()
    assert stored["context"] == extras and type(stored["context"]["big"]) is int
    await ctx.settle()
    async with ctx.db.reading() as session:
        summaries = [data["context"] for data in (await session.scalars(select(TimelineEvent.data))).all() if data and "context" in data]
    assert summaries == [extras] and type(summaries[0]["small"]) is int


@pytest.mark.parametrize(
    ("item", "where"),
    [
        (InboundMessage(provider_id="a", context={"n": 2**63}), "context.n"),
        (InboundMessage(provider_id="a", context={"n": -(2**63) - 1}), "context.n"),
        (InboundMessage(provider_id="a", context={"deep": [{"x": 10**30}]}), "context.deep.0.x"),
        (InboundMessage(provider_id="a", content={"call": {"ms": 2**64}}), "content.call.ms"),
        (InboundMessage(provider_id="a", answer=Answer(option_id="o", message_id=2**63)), "answer.message_id"),
        (InboundMessage(provider_id="a", context={"n": INT64_MAX, "m": -(2**63), "f": 1e300, "s": "9" * 40, "b": True}), None),
        (InboundMessage(provider_id="a"), None),
    ],
)
def test_where_the_first_out_of_range_integer_is(item: InboundMessage, where: str | None) -> None:
    assert out_of_range_int(item) == where



# ---- the built-in adapters drop a provider's wide integer where they read it: the message is kept

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


def _body(payload: dict[str, Any], wide: int) -> bytes:
    """``payload`` as JSON with ``WIDE`` written as the integer ``wide`` (any width, as on the wire)."""
    return orjson.dumps(payload).replace(b'"WIDE"', str(wide).encode())


def _telegram(body: bytes) -> InboundMessage:
    fake = FakeTelegram()
    config = TelegramChannel.config_model.model_validate(fake.channel_config() | {"api_base": "http://tg"})
    request = WebhookRequest("POST", {"x-telegram-bot-api-secret-token": fake.secret_token}, {}, body)
    (item,) = TelegramChannel(1).handle_webhook(config, request).items
    return item


def _vk(body: bytes) -> InboundMessage:
    config = VkConfig(group_id=123456, access_token="vk1.a.community-token", secret="s3cr3t-callback-key", confirmation_code="a1b2c3d4")
    (item,) = VkChannel(1).handle_webhook(config, WebhookRequest("POST", {}, {}, body)).items
    return item


@pytest.mark.parametrize("wide", [2**63, 2**64 - 1])  # orjson reads both as integers
def test_telegram_keeps_only_text_for_the_senders_username_and_language(wide: int) -> None:
    update = _fixture("telegram/text.json")
    update["message"]["from"] |= {"username": "WIDE", "language_code": {"nested": "WIDE"}}
    item = _telegram(_body(update, wide))
    assert item.context == {} and out_of_range_int(item) is None
    update["message"]["from"] |= {"username": "ivan_petrov", "language_code": "ru"}
    assert _telegram(orjson.dumps(update)).context == {"telegram": {"username": "ivan_petrov", "language_code": "ru"}}


@pytest.mark.parametrize("wide", [2**63, 2**64 - 1])
def test_vk_drops_a_wide_event_id_and_conversation_message_id(wide: int) -> None:
    event = _fixture("vk/message_new_text.json")
    event["event_id"], event["object"]["message"]["conversation_message_id"] = "WIDE", "WIDE"
    item = _vk(_body(event, wide))
    assert item.context == {"vk": {"peer_id": 111}} and out_of_range_int(item) is None


@pytest.mark.parametrize("wide", [2**63, 2**64 - 1])
def test_vk_drops_a_button_payloads_message_id_past_the_id_range(wide: int) -> None:
    event = _fixture("vk/interactive/message_new_button.json")
    event["object"]["message"]["payload"] = f'{{"okno":"refund","m":{wide}}}'
    item = _vk(orjson.dumps(event))
    assert item.answer is not None and item.answer.option_id == "refund" and item.answer.message_id is None
    assert out_of_range_int(item) is None


def test_google_reviews_keep_the_creation_time_only_as_text() -> None:
    review = _fixture("google_reviews/list_page.json")["reviews"][0]
    as_listed, _ = _review(review)
    assert as_listed is not None and as_listed.context["review"]["created"] == "2026-01-03T09:12:44.512Z"
    wide, _ = _review(json.loads(json.dumps(review).replace('"createTime": "2026-01-03T09:12:44.512Z"', f'"createTime": {2**70}')))  # stdlib json: httpx's
    assert wide is not None and "created" not in wide.context["review"] and out_of_range_int(wide) is None
