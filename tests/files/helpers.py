"""Real little files (a valid PNG, a PDF) and a conversation with a customer of a fake provider."""

from __future__ import annotations

import struct
import zlib

import httpx

from okno.context import AppContext
from tests.factories import admin_headers


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def tiny_pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


async def channel_with_fake(client: httpx.AsyncClient, ctx: AppContext, kind: str, fake, name: str = "канал") -> tuple[dict, dict]:
    headers = await admin_headers(ctx, client)
    response = await client.post("/api/v1/channels", json={"kind": kind, "name": name, "config": fake.channel_config()}, headers=headers)
    assert response.status_code == 201, response.text
    channel = response.json()
    fake.connect(client, f"/webhooks/{channel['id']}")
    return channel, headers


async def conversation_of(client: httpx.AsyncClient, headers: dict, ctx: AppContext) -> dict:
    await ctx.settle()
    items = (await client.get("/api/v1/conversations", headers=headers)).json()["items"]
    assert len(items) == 1, items
    return items[0]


async def send_files(client: httpx.AsyncClient, headers: dict, conversation_id: int, files: list[tuple[str, bytes, str]], text: str = "", **fields: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        data={"text": text, **fields},
        files=[("files", f) for f in files],
        headers=headers,
    )
