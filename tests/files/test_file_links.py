"""Files to receivers that fetch them: the widget visitor (by his token) and an integration
behind the API channel (by a signed, expiring link); and a channel that can't send files."""

from __future__ import annotations

from typing import ClassVar

import httpx
import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy import update

from okno.channels import registry
from okno.channels.base import Capabilities, SendResult
from okno.config import Settings
from okno.models import Identity
from tests.channels.test_widget import (
    SITE,
    _frame,
    _session,
    _socket,
)
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.files.helpers import send_files, tiny_pdf, tiny_png
from tests.test_delivery import SECRET


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": "https://okno.example"})  # where integrations reach okno


async def test_widget_visitor_gets_a_link_only_his_token_opens(widget, client, ctx) -> None:
    session = await _session(widget)
    async with _socket(widget, session["token"]) as ws:
        await ws.send(orjson.dumps({"type": "message", "client_id": "c-1", "text": "пришлите схему проезда"}).decode())
        await _frame(ws, "ack")
        await ctx.settle()
        conversation = (await client.get("/api/v1/conversations", headers=widget["headers"])).json()["items"][0]
        sent = await send_files(client, widget["headers"], conversation["id"], [("схема.pdf", tiny_pdf(), "application/pdf")], text="Вот схема")
        assert sent.status_code == 201, sent.text
        await ctx.settle()
        frame = await _frame(ws, "message")
        while frame["from"] != "agent":  # the visitor's own message comes back on his stream first
            frame = await _frame(ws, "message")
    assert frame["from"] == "agent" and frame["text"] == "Вот схема"
    [file] = frame["files"]
    assert (file["name"], file["content_type"], file["size"], file["kind"]) == ("схема.pdf", "application/pdf", len(tiny_pdf()), "file")
    async with httpx.AsyncClient(base_url=widget["base"]) as http:
        mine = await http.get(file["url"], params={"token": session["token"]}, headers={"origin": SITE})
        assert mine.status_code == 200 and mine.content == tiny_pdf() and mine.headers["access-control-allow-origin"] == SITE
        other = await _session(widget)
        assert (await http.get(file["url"], params={"token": other["token"]})).status_code == 404
        assert (await http.get(file["url"], params={"token": "v_x.1.forged"})).status_code == 401


async def test_api_channel_sends_a_signed_expiring_download_url(client, ctx, receiver) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers, secret=SECRET, outbound_url=receiver.url)
    await post_inbound(client, channel, {"message_id": "m-1", "from": {"external_id": "c-1"}, "text": "счёт?"})
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    assert (await send_files(client, headers, conversation["id"], [("счёт.png", tiny_png(), "image/png")], text="счёт")).status_code == 201
    await ctx.settle()
    [delivery] = receiver.boxes["crm"].deliveries.values()
    [attachment] = delivery["body"]["attachments"]
    assert attachment["kind"] == "image" and attachment["name"] == "счёт.png" and attachment["size"] == len(tiny_png())
    url = httpx.URL(attachment["url"])
    assert (url.scheme, url.host, url.path.startswith("/files/")) == ("https", "okno.example", True)
    fetched = await client.get(url.path, params=dict(url.params))
    assert fetched.status_code == 200 and fetched.content == tiny_png()
    forged = dict(url.params) | {"sig": "AAAA"}
    assert (await client.get(url.path, params=forged)).status_code == 403
    expired = dict(url.params) | {"expires": "1000"}
    assert (await client.get(url.path, params=expired)).status_code == 403


class _TextOnlyConfig(BaseModel):
    pass


class _TextOnlyChannel:
    """A channel kind that declares no outbound media (like an SMS gateway would)."""

    kind: ClassVar[str] = "textonly"
    title: ClassVar[str] = "Text only"
    config_model: ClassVar[type[BaseModel]] = _TextOnlyConfig
    capabilities: ClassVar[Capabilities] = Capabilities(max_text_length=160, address_kinds=frozenset({"phone"}), starts_conversations=True)

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    async def send(self, config, message, http) -> SendResult:
        return SendResult(provider_message_id="t-1")


@pytest.fixture
def text_only_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(registry.ADAPTERS, _TextOnlyChannel.kind, _TextOnlyChannel)
    return _TextOnlyChannel.kind


async def test_a_channel_that_cant_send_files_gives_422_naming_its_kind(client, ctx, text_only_kind) -> None:
    headers = await admin_headers(ctx, client)
    api = await make_api_channel(client, headers)
    await post_inbound(client, api, {"message_id": "m-1", "from": {"phone": "+79161234567"}, "text": "?"})
    await ctx.settle()
    sms = (await client.post("/api/v1/channels", json={"kind": text_only_kind, "name": "SMS", "config": {}}, headers=headers)).json()
    async with ctx.db.transaction() as session:  # the customer's phone became known on the SMS channel: it may write to him
        await session.execute(update(Identity).values(source_channel_id=sms["id"]))
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]
    refused = await send_files(client, headers, conversation["id"], [("a.png", tiny_png(), "image/png")], channel_id=str(sms["id"]))
    assert refused.status_code == 422 and "a textonly channel can't send files" in refused.json()["detail"]
    assert not any(p.is_file() for p in ctx.files.blobs.root.rglob("*")) if ctx.files.blobs.root.exists() else True
    capabilities = {k["kind"]: k["capabilities"] for k in (await client.get("/api/v1/channels/kinds", headers=headers)).json()["items"]}
    assert capabilities["telegram"]["outbound_media"] == ["file", "image"] and capabilities[text_only_kind]["outbound_media"] == []
