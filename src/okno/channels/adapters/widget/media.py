"""Operators' files in the website chat: the visitor's stream event carries a download link per
file, and the link works only with that visitor's token (the bytes stay in okno's file store)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from okno.channels.adapters.widget.adapter import WidgetConfig
from okno.channels.adapters.widget.tokens import visitor_from_token
from okno.channels.base import OutboundMessage
from okno.context import AppContext
from okno.customers.identity_index import is_key
from okno.kit.blobs import BlobMissing
from okno.models import Direction, Identity, Message, StoredFile

router = APIRouter(tags=["widget"])
FILE_PATH = "/widget/{channel_id}/messages/{message_id}/files/{index}"


def file_entries(channel_id: int, message: OutboundMessage) -> list[dict[str, Any]]:
    """What the visitor's widget shows for each file; it appends its token to ``url``."""
    return [
        {"name": f.filename, "content_type": f.content_type, "size": f.size, "kind": f.kind,
         "url": FILE_PATH.format(channel_id=channel_id, message_id=message.message_id, index=index)}
        for index, f in enumerate(message.files)
    ]


@router.get(FILE_PATH, summary="A visitor downloads a file an operator sent them (visitor token)")
async def visitor_file(channel_id: int, message_id: int, index: int, token: str, request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    channel = await ctx.channels.get(channel_id)
    if channel is None or not isinstance(channel.config, WidgetConfig):
        return _refused(404, f"chat widget {channel_id} not found")
    visitor_id = visitor_from_token(channel.config.token_secret.get_secret_value(), channel_id, token)
    if visitor_id is None:
        return _refused(401, "invalid or expired visitor token")
    async with ctx.db.reading() as session:
        row = await _file_sent_to(session, channel_id, message_id, index, visitor_id)
    if row is None:
        return _refused(404, "no such file for this visitor")
    try:
        content = await asyncio.to_thread(ctx.files.blobs.read, row.storage_key)
    except BlobMissing:
        return _refused(404, "the file is no longer kept")
    origin = request.headers.get("origin")
    headers = {"content-disposition": f"attachment; filename*=UTF-8''{_quoted(row.filename)}", "x-content-type-options": "nosniff",
               "cache-control": "private, max-age=3600"}
    if origin and channel.config.allows(origin):
        headers |= {"access-control-allow-origin": origin, "vary": "Origin"}
    return Response(content, media_type=row.content_type, headers=headers)


async def _file_sent_to(session, channel_id: int, message_id: int, index: int, visitor_id: str) -> StoredFile | None:
    message = await session.get(Message, message_id)
    if message is None or message.channel_id != channel_id or message.direction != Direction.outbound.value:
        return None
    attachments = message.attachments or []
    if not 0 <= index < len(attachments) or not isinstance(attachments[index].get("stored_file_id"), int):
        return None
    own = await session.scalar(
        select(Identity.id).where(Identity.customer_id == message.customer_id, is_key("web", visitor_id))
    )
    return await session.get(StoredFile, attachments[index]["stored_file_id"]) if own is not None else None


def _quoted(name: str) -> str:
    return quote(name)


def _refused(status: int, detail: str) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code=status, media_type="application/json")
