"""SMS.ru: replies go out by SMS to a customer who wrote elsewhere, its recorded answers and
delivery reports are fed through the real adapter over HTTP, and segments are counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from okno.channels.adapters.smsru.fake import FakeSmsRu
from okno.channels.adapters.smsru.segments import count_segments
from okno.models import InboundItem, Message
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_operator, make_api_channel, post_inbound

FIXTURES = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted((Path(__file__).parent / "fixtures" / "smsru").glob("*.json"))}
PHONE = "+79161234567"


@pytest.fixture
async def sms(client, ctx):  # noqa: ANN001, ANN201
    """An SMS.ru channel on the fake, and a customer with a phone who wrote through a CRM."""
    fake = FakeSmsRu()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": "smsru", "name": "SMS", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        api = await make_api_channel(client, headers)
        await post_inbound(client, api, {"message_id": "m-1", "from": {"phone": PHONE, "name": "Анна"}, "text": "Перезвоните мне"})
        await ctx.settle()
        async with ctx.db.reading() as session:
            conversation_id = await session.scalar(select(Message.conversation_id))
        yield fake, channel, headers, conversation_id


async def _sms_reply(client, ctx, sms, text: str = "Ваш заказ готов") -> Message:  # noqa: ANN001
    fake, channel, headers, conversation_id = sms
    posted = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "channel_id": channel["id"]}, headers=headers)
    assert posted.status_code == 201, posted.text
    await ctx.settle()
    return await _message(ctx, posted.json()["id"])


async def _message(ctx, message_id: int) -> Message:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.get(Message, message_id)


def _form(fixture: dict[str, Any], sms_id: str) -> bytes:
    return urlencode({k: v.replace("{sms_id}", sms_id) for k, v in fixture.items()}).encode()


async def test_a_reply_goes_by_sms_and_the_recorded_report_marks_it_delivered(client, ctx, sms) -> None:
    fake = sms[0]
    message = await _sms_reply(client, ctx, sms)
    assert message.status == "sent" and message.provider_message_id == fake.sent[0]["sms_id"]
    assert fake.calls[0] == {"api_id": fake.api_id, "to": PHONE.lstrip("+"), "msg": "Ваш заказ готов", "json": "1", "from": "okno"}

    response = await fake.post_report_form(_form(FIXTURES["report_delivered"], message.provider_message_id))
    assert (response.status_code, response.text) == (200, "100")  # SMS.ru stops retrying on "100"
    assert (await fake.redeliver_last()).text == "100"
    await ctx.settle()
    assert (await _message(ctx, message.id)).status == "delivered"
    async with ctx.db.reading() as session:  # the call-check line is skipped, the redelivery deduplicated
        assert await session.scalar(select(func.count()).select_from(InboundItem).where(InboundItem.channel_id == sms[1]["id"])) == 1

    # sent (102) then read (110) in one callback, after delivered: only forward
    await fake.post_report_form(_form(FIXTURES["report_two_numbers"], message.provider_message_id))
    await ctx.settle()
    assert (await _message(ctx, message.id)).status == "read"


async def test_an_expired_sms_fails_with_the_providers_meaning(client, ctx, sms) -> None:
    fake = sms[0]
    message = await _sms_reply(client, ctx, sms)
    await fake.post_report_form(_form(FIXTURES["report_expired"], message.provider_message_id))
    await ctx.settle()
    failed = await _message(ctx, message.id)
    assert failed.status == "failed" and "104" in failed.error and "expired" in failed.error


async def test_a_report_without_the_token_is_refused_and_stores_nothing(client, ctx, sms) -> None:
    fake = sms[0]
    message = await _sms_reply(client, ctx, sms)
    body = _form(FIXTURES["report_delivered"], message.provider_message_id)
    assert (await fake.post_report_form(body, token="")).status_code == 401
    assert (await fake.post_report_form(body, token="guessed-token-123456")).status_code == 403
    assert (await fake.post_report_form(b"data[0]=sms_status%0A1%0Anot-a-code")).status_code == 422
    await ctx.settle()
    assert (await _message(ctx, message.id)).status == "sent"


async def test_the_recorded_send_answers_map_to_typed_outcomes(client, ctx, sms) -> None:
    fake, channel, headers, _ = sms
    fake.answers.append(FIXTURES["send_stop_list"])
    stopped = await _sms_reply(client, ctx, sms, "Первое")
    assert stopped.status == "failed" and "209" in stopped.error and "stop-list" in stopped.error

    fake.answers.append(FIXTURES["send_bad_api_id"])
    refused = await _sms_reply(client, ctx, sms, "Второе")
    assert refused.status == "failed" and "api_id" in refused.error
    listed = next(c for c in (await client.get("/api/v1/channels", headers=headers)).json()["items"] if c["id"] == channel["id"])
    assert listed["health"] == "needs_action" and "200" in listed["health_reason"]


async def test_the_sms_channel_is_offered_for_a_customer_with_a_phone_only(client, ctx, sms) -> None:
    fake, channel, headers, conversation_id = sms
    # a customer known only by a Telegram-like opaque id (here: an API channel external id) has no phone
    api = await make_api_channel(client, headers)
    await post_inbound(client, api, {"message_id": "m-2", "from": {"external_id": "crm-42", "name": "Борис"}, "text": "?"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        other = await session.scalar(select(Message.conversation_id).where(Message.conversation_id != conversation_id))
    refused = await client.post(f"/api/v1/conversations/{other}/messages", json={"text": "SMS?", "channel_id": channel["id"]}, headers=headers)
    assert refused.status_code == 422 and "can't reach" in refused.text
    assert fake.sent == []


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "left"),
    [
        ("", "gsm7", 1, 160),
        ("Hello", "gsm7", 1, 155),
        ("a" * 160, "gsm7", 1, 0),
        ("a" * 161, "gsm7", 2, 145),
        ("{}" * 40, "gsm7", 1, 0),  # extension characters take two places
        ("{}" * 41, "gsm7", 2, 142),
        ("Привет", "ucs2", 1, 64),
        ("я" * 70, "ucs2", 1, 0),
        ("я" * 71, "ucs2", 2, 63),
        ("Hi 👋", "ucs2", 1, 65),  # an emoji is two UTF-16 units
        ("я" * 670, "ucs2", 10, 0),
    ],
)
def test_segments_are_counted_as_the_phone_network_bills_them(text: str, encoding: str, segments: int, left: int) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.segments, counted.left) == (encoding, segments, left)


async def test_the_reply_box_offers_sms_with_a_segment_counter(client, ctx, sms) -> None:
    _, channel, _, conversation_id = sms
    await _sign_in(client, ctx)
    html = (await client.get(f"/ui/conversations/{conversation_id}")).text
    option = html[html.index(f'<option value="{channel["id"]}"'):]
    assert 'data-sms-segments="1"' in option[: option.index(">")]
    assert 'data-testid="sms-segments"' in html


async def _sign_in(client, ctx) -> None:  # noqa: ANN001
    operator = await make_operator(ctx, role="admin")
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200


def test_the_recorded_accepted_and_unavailable_answers() -> None:
    from okno.channels.adapters.smsru.adapter import accepted_id
    from okno.channels.base import RetryLater

    assert accepted_id(FIXTURES["send_ok"], "79161234567") == "000000-10000000"
    with pytest.raises(RetryLater) as later:
        accepted_id(FIXTURES["send_unavailable"], "79161234567")
    assert later.value.after_seconds == 60 and "220" in later.value.reason
