from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Response

from okno.access.guards import access_message
from okno.api.access import OperatorScope
from okno.api.deps import Ctx, ReadSession
from okno.api.files import content_disposition, file_response, stored_file_response
from okno.api.read_audit import AuditedReads
from okno.channels.base import AttachmentUnavailable
from okno.kit.errors import Invalid, NotFound
from okno.kit.outbound_urls import UrlRefused
from okno.models import Direction, Message, StoredFile

router = APIRouter(prefix="/api/v1/messages", tags=["conversations"])


@router.get("/{message_id}/attachments/{index}", summary="Download an attachment from the provider, on demand")
async def download_attachment(message_id: int, index: int, scope: OperatorScope, session: ReadSession, ctx: Ctx, reads: AuditedReads) -> Response:
    message = await access_message(session, scope, message_id)
    if not 0 <= index < len(message.attachments or []):
        raise NotFound("message %(message_id)s has no attachment %(index)s", message_id=message_id, index=index)
    response = await _attachment(message, index, session, ctx)
    if response.status_code == 200:  # a provider's refusal showed nothing: not a read
        reads.saw("read.attachment", customer_ids=message.customer_id, conversation_ids=message.conversation_id, attachment=f"{message_id}/{index}")
    return response


async def _attachment(message: Message, index: int, session: ReadSession, ctx: Ctx) -> Response:
    stored_id = message.attachments[index].get("stored_file_id") if isinstance(message.attachments[index], dict) else None
    if isinstance(stored_id, int) and message.direction == Direction.outbound.value:  # an operator's upload okno keeps
        return await stored_file_response(session, ctx, stored_id)
    channel = await ctx.channels.get(message.channel_id) if message.channel_id else None
    if isinstance(stored_id, int) and channel is not None and channel.adapter.capabilities.keeps_files:
        # a file the adapter kept when the message came in (an e-mail's attachment, okno.channels.kept_files)
        row = await session.get(StoredFile, stored_id)
        if row is not None and await asyncio.to_thread(ctx.files.blobs.exists, row.storage_key):
            return await file_response(ctx.files.blobs, row)
        # its bytes are gone (removed from the data folder by hand): the provider may still have it
    if channel is None or not channel.adapter.capabilities.attachment_download:
        raise Invalid("this message's channel does not offer attachment downloads")
    try:
        download = await channel.adapter.fetch_attachment(channel.config, message.attachments[index], ctx.http)
    except AttachmentUnavailable as exc:
        return Response(orjson.dumps({"detail": exc.reason}), status_code=502, media_type="application/json")
    except UrlRefused as exc:
        return Response(orjson.dumps({"detail": f"refused: {exc.reason}"}), status_code=502, media_type="application/json")
    headers = {"content-disposition": content_disposition(download.filename)} if download.filename else {}
    return Response(download.content, media_type=download.content_type, headers=headers)
