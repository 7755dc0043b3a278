"""Novofon telephony (docs/channel-protocols.md §6, docs/telephony.md): the signed form events, the
URL check, one call = one message updated by its later events, and the caller landing on the
customer who wrote from the same number in WhatsApp. Both databases (the ctx/client fixtures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from okno.channels.adapters.novofon.adapter import NovofonChannel, NovofonConfig
from okno.channels.adapters.novofon.fake import FakeNovofon
from okno.channels.adapters.novofon.signing import SIGNED_FIELDS, webhook_signature
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.channels.base import WebhookRejected, WebhookRequest
from okno.models import InboundItem, Message, TimelineEvent
from tests.conftest import LoopbackServer
from tests.factories import admin_headers

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "novofon"
FIXTURES: dict[str, dict[str, str]] = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES_DIR.glob("*.json"))}
SECRET = "fake-novofon-api-secret-0123"
CONFIG = NovofonConfig(api_key="key", api_secret=SECRET)


def _reference_signature(secret: str, text: str) -> str:
    """base64 of the HEX string of HMAC-SHA1, written out independently of the adapter."""
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().encode()).decode()


SIGNED = {
    "notify_start": ("caller_id", "called_did", "call_start"),
    "notify_internal": ("caller_id", "called_did", "call_start"),
    "notify_answer": ("caller_id", "destination", "call_start"),
    "notify_end_answered": ("caller_id", "called_did", "call_start"),
    "notify_end_missed": ("caller_id", "called_did", "call_start"),
    "notify_out_start": ("internal", "destination", "call_start"),
    "notify_out_end": ("internal", "destination", "call_start"),
    "notify_record": ("pbx_call_id", "call_id_with_rec"),
}


def _request(fields: dict[str, str], signature: str | None) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["signature"] = signature
    return WebhookRequest(method="POST", headers=headers, query={}, body=urlencode(fields).encode())


def _signed(name: str) -> WebhookRequest:
    fields = FIXTURES[name]
    return _request(fields, _reference_signature(SECRET, "".join(fields[f] for f in SIGNED[name])))


# ---- the wire, without a database ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_every_recorded_event_verifies_with_the_providers_signed_string(name: str) -> None:
    result = NovofonChannel(1).handle_webhook(CONFIG, _signed(name))
    if name == "notify_record":
        assert result.items == []  # NOTIFY_END already named the recording
        return
    [item] = result.items
    fields = FIXTURES[name]
    assert item.message_kind == "call" and item.thread_key == item.item_key == fields["pbx_call_id"]
    assert item.provider_id.startswith(fields["event"] + ":" + fields["pbx_call_id"])
    customer = fields["destination"] if "OUT" in fields["event"] else fields["caller_id"]
    assert [(s.kind, s.value, s.source) for s in item.sender] == [("phone", "+" + customer, "caller_id")]
    assert item.content["call"]["direction"] == ("out" if "OUT" in fields["event"] else "in")


def test_an_end_carries_the_calls_outcome_and_its_recording() -> None:
    [answered] = NovofonChannel(1).handle_webhook(CONFIG, _signed("notify_end_answered")).items
    call = answered.content["call"]
    assert call | {"events": None} == call | {
        "duration": 42, "disposition": "answered", "status_code": "16", "extension": "100", "ended": True, "answered": True,
        "recording": "1736935200.123456", "events": None,
    }  # fmt: skip
    assert answered.attachments == [{"kind": "audio", "file_id": "1736935200.123456", "name": "1736935200.123456.mp3", "mime_type": "audio/mpeg"}]
    [missed] = NovofonChannel(1).handle_webhook(CONFIG, _signed("notify_end_missed")).items
    assert missed.content["call"]["answered"] is False and missed.attachments == []


@pytest.mark.parametrize("signature", [None, "", "bm90LWl0", _reference_signature("another-secret-of-16+", "x")])
def test_a_wrong_or_missing_signature_is_401(signature: str | None) -> None:
    with pytest.raises(WebhookRejected) as refused:
        NovofonChannel(1).handle_webhook(CONFIG, _request(FIXTURES["notify_start"], signature))
    assert refused.value.status_code == 401


def test_the_raw_digest_in_base64_is_not_the_providers_signature() -> None:
    fields = FIXTURES["notify_start"]
    text = fields["caller_id"] + fields["called_did"] + fields["call_start"]
    raw = base64.b64encode(hmac.new(SECRET.encode(), text.encode(), hashlib.sha1).digest()).decode()
    with pytest.raises(WebhookRejected):
        NovofonChannel(1).handle_webhook(CONFIG, _request(fields, raw))


def test_the_url_check_echoes_zd_echo_as_plain_text() -> None:
    result = NovofonChannel(1).handle_webhook(CONFIG, WebhookRequest(method="GET", headers={}, query={"zd_echo": "a1b2c3"}, body=b""))
    assert (result.reply.status_code, result.reply.body, result.reply.media_type) == (200, b"a1b2c3", "text/plain")


def test_a_did_of_another_channel_is_acknowledged_and_not_kept() -> None:
    config = NovofonConfig(api_key="key", api_secret=SECRET, numbers=["+74950000000"])
    assert NovofonChannel(1).handle_webhook(config, _signed("notify_start")).items == []


# ---- over HTTP, through the fake provider --------------------------------------------------


@asynccontextmanager
async def _novofon(client, ctx, headers, fake: FakeNovofon | None = None) -> AsyncIterator[tuple[FakeNovofon, dict[str, Any]]]:  # noqa: ANN001
    fake = fake or FakeNovofon()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "novofon", "name": "Телефон", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        channel = created.json()
        fake.connect(client, f"/webhooks/{channel['id']}")
        yield fake, channel


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def test_echo_over_http(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    async with _novofon(client, ctx, headers) as (fake, _):
        response = await fake.echo("zd-check-42")
    assert response.status_code == 200 and response.text == "zd-check-42" and response.headers["content-type"].startswith("text/plain")


async def test_a_forged_event_is_401_and_stores_nothing(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    async with _novofon(client, ctx, headers) as (fake, _):
        for signature in ("", "Zm9yZ2Vk"):
            assert (await fake.event(FIXTURES["notify_start"], signature=signature)).status_code == 401
        assert (await fake.event(FIXTURES["notify_end_answered"], secret="somebody-elses-secret")).status_code == 401
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InboundItem)) == 0
    assert await _messages(ctx) == []


async def test_the_recorded_events_of_a_call_make_one_call_message(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    async with _novofon(client, ctx, headers) as (fake, _):
        for name in ("notify_start", "notify_internal", "notify_answer", "notify_end_answered", "notify_record"):
            assert (await fake.event(FIXTURES[name])).status_code == 200
            await ctx.settle()  # one event at a time: each later one updates the stored call
        assert (await fake.redeliver_last()).status_code == 200
        assert (await fake.event(FIXTURES["notify_answer"])).status_code == 200  # a redelivered answer changes nothing
        await ctx.settle()
    [call] = await _messages(ctx)
    assert call.kind == "call" and call.provider_message_id == "in_5a1c7e2b9d"
    facts = call.content["call"]
    assert facts["events"] == ["NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END"]
    assert (facts["answered_by"], facts["duration"], facts["disposition"], facts["status_code"], facts["answered"]) == ("100", 42, "answered", "16", True)
    assert [a["file_id"] for a in call.attachments] == ["1736935200.123456"]
    async with ctx.db.reading() as session:
        updates = (await session.scalars(select(TimelineEvent.kind).where(TimelineEvent.message_id == call.id).order_by(TimelineEvent.id))).all()
    assert updates == ["message.received", "message.updated", "message.updated", "message.updated", "call.completed"]


async def test_events_arriving_together_or_out_of_order_end_in_the_same_call(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    async with _novofon(client, ctx, headers) as (fake, _):
        for name in ("notify_end_answered", "notify_answer", "notify_start"):  # no settle between: one batch, reversed
            assert (await fake.event(FIXTURES[name])).status_code == 200
        await ctx.settle()
    [call] = await _messages(ctx)
    facts = call.content["call"]
    assert set(facts["events"]) == {"NOTIFY_START", "NOTIFY_ANSWER", "NOTIFY_END"}
    assert facts["answered"] is True and facts["duration"] == 42 and facts["answered_by"] == "100"


async def test_a_caller_who_wrote_in_whatsapp_is_the_same_customer(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    whatsapp = FakeWhatsApp()
    async with LoopbackServer(whatsapp.app) as server:
        whatsapp.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "whatsapp", "name": "WA", "config": whatsapp.channel_config()}, headers=headers)
        whatsapp.connect(client, f"/webhooks/{created.json()['id']}")
        assert (await whatsapp.deliver_text("79161234567", "Добрый день, где заказ?")).status_code == 200
        await ctx.settle()
    async with _novofon(client, ctx, headers) as (fake, _):
        await fake.answered_call("79161234567", recorded=False)
        await ctx.settle()
    written, call = await _messages(ctx)
    assert call.kind == "call" and call.customer_id == written.customer_id
    assert call.conversation_id != written.conversation_id  # a call is its own thread, on the one timeline


FIELD_NAMES = st.sampled_from(["event", "call_start", "pbx_call_id", "caller_id", "called_did", "internal", "destination", "duration",
                               "disposition", "status_code", "is_recorded", "call_id_with_rec", "x"])  # fmt: skip
EVENTS = st.sampled_from([*SIGNED_FIELDS, "NOTIFY_IVR", ""])


@settings(max_examples=300, deadline=None)
@given(event=EVENTS, fields=st.dictionaries(FIELD_NAMES, st.text(max_size=40), max_size=12), raw=st.binary(max_size=200))
def test_hostile_forms_never_crash_the_parser(event: str, fields: dict[str, str], raw: bytes) -> None:
    """Signed (so parsing is reached) forms with any values, and raw bytes: a result or a 4xx."""
    for body_fields in ({**fields, "event": event}, fields):
        signature = webhook_signature(SECRET, body_fields) if body_fields.get("event") in SIGNED_FIELDS else "x"
        for request in (_request(body_fields, signature), WebhookRequest(method="POST", headers={"signature": signature}, query={}, body=raw)):
            try:
                result = NovofonChannel(1).handle_webhook(CONFIG, request)
            except WebhookRejected as refused:
                assert 400 <= refused.status_code < 500
                continue
            for item in result.items:
                assert item.message_kind == "call" and item.sender[0].kind == "phone"
