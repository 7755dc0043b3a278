"""Attachment metadata is checked by type before it is stored, for every adapter: recorded
payloads with their fields tampered (a size that is a string or negative, a name that is not
text, a link that is not http(s), a file id okno keeps) are stored coerced or without the field,
and the conversation page that reads them still renders. Both databases."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.attachments import clean_attachment, clean_attachments
from okno.models import Message
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(kind: str, name: str) -> dict:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ({"size": "48213"}, {"size": 48213}),
        ({"size": -5}, {}),
        ({"size": "big"}, {}),
        ({"size": True}, {}),
        ({"size": 1e300}, {}),
        ({"size": 12.0, "width": "800", "duration": -1}, {"size": 12, "width": 800}),
        ({"name": 1042, "mime_type": ["application/pdf"], "filename": {"x": 1}}, {"name": "1042"}),
        ({"name": "   "}, {}),
        ({"name": "отчёт.pdf" + "я" * 300}, {"name": "отчёт.pdf" + "я" * 246}),
        ({"url": "javascript:alert(1)"}, {}),
        ({"url": "https://crm.example/f.pdf", "link_ogg": "data:audio/ogg;base64,AAAA"}, {"url": "https://crm.example/f.pdf"}),
        ({"stored_file_id": 1, "kind": "file"}, {"kind": "file"}),
        ({"latitude": 55.75, "longitude": 37.6, "kind": "location"}, {"latitude": 55.75, "longitude": 37.6, "kind": "location"}),
        ({"latitude": "55.75", "longitude": 500}, {}),
        ({"crm_file_id": 771, "note": "оплачено", "meta": {"nested": [1]}, "flag": False}, {"crm_file_id": 771, "note": "оплачено", "flag": False}),
    ],
)
def test_each_field_is_coerced_to_its_type_or_dropped(given: dict, kept: dict) -> None:
    assert clean_attachment(given) == kept


def test_only_objects_are_attachments() -> None:
    assert clean_attachments(["file.pdf", 7, None, {"kind": "file"}]) == [{"kind": "file"}]


async def _page(client, ctx, conversation_id: int) -> str:  # noqa: ANN001
    operator = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
    page = await client.get(f"/ui/conversations/{conversation_id}")
    assert page.status_code == 200, page.text[:500]
    return page.text


async def test_an_integrators_mistyped_attachments_are_stored_typed_and_the_page_renders(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    payload = copy.deepcopy(_fixture("api", "attachments"))  # a helpdesk's real message with an invoice and a receipt
    invoice, receipt = payload["attachments"]
    invoice.update(size=str(invoice["size"]), stored_file_id=1)
    receipt.update(size=-131552, name=["receipt.jpg"], mime_type=7, url="javascript:alert(document.cookie)")
    payload["attachments"].append({"kind": "file", "name": {"$gt": ""}, "size": "NaN"})
    assert (await post_inbound(client, channel, payload)).status_code == 200
    await ctx.settle()
    async with ctx.db.reading() as session:
        message = await session.scalar(select(Message))
    assert message.attachments == [
        {"kind": "file", "url": "https://crm.example/files/771/invoice-2025-0112.pdf", "name": "invoice-2025-0112.pdf", "mime_type": "application/pdf", "size": 48213},
        {"kind": "image", "mime_type": "7"},
        {"kind": "file"},
    ]
    text = await _page(client, ctx, message.conversation_id)
    assert "invoice-2025-0112.pdf" in text and "(47 КБ)" in text and "javascript:" not in text


async def test_a_telegram_photo_with_a_size_sent_as_text_is_stored_as_a_number(client, ctx) -> None:
    fake = FakeTelegram()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": "telegram", "name": "Бот", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        update = copy.deepcopy(_fixture("telegram", "photo_caption"))
        largest = update["message"]["photo"][-1]
        largest.update(file_size=str(largest["file_size"]), width="1280px", height=-960)
        assert (await fake.deliver_update(update)).status_code == 200
        await ctx.settle()
    async with ctx.db.reading() as session:
        message = await session.scalar(select(Message))
    assert message.attachments == [{"kind": "image", "file_id": largest["file_id"], "size": 131552, "mime_type": "image/jpeg"}]
    assert "Вот так пришла коробка" in await _page(client, ctx, message.conversation_id)
