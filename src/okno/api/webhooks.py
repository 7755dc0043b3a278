"""Provider-facing inbound: verify, parse, store the raw items durably, answer. Nothing else."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from okno.api.deps import Ctx
from okno.channels.base import WebhookRejected, WebhookRequest
from okno.channels.inbound import accept_items

router = APIRouter(tags=["webhooks"])


def _json(status_code: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


@router.post("/webhooks/{channel_id}", summary="Provider delivers inbound items")
async def provider_webhook(channel_id: int, request: Request, ctx: Ctx) -> Response:
    return await _handle(channel_id, request, ctx)


@router.get("/webhooks/{channel_id}", summary="Provider handshake (verification challenges)")
async def provider_handshake(channel_id: int, request: Request, ctx: Ctx) -> Response:
    return await _handle(channel_id, request, ctx)


async def _handle(channel_id: int, request: Request, ctx: Ctx) -> Response:
    channel = await ctx.channels.get(channel_id)
    if channel is None:
        return _json(404, {"detail": f"channel {channel_id} not found or disabled"})
    declared = request.headers.get("content-length")
    limit = ctx.settings.webhook_max_body_bytes
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return _json(413, {"detail": f"body larger than {limit} bytes"})
    body = await request.body()
    if len(body) > limit:
        return _json(413, {"detail": f"body larger than {limit} bytes"})
    incoming = WebhookRequest(
        method=request.method, headers=request.headers, query=request.query_params, body=body
    )
    try:
        result = channel.adapter.handle_webhook(channel.config, incoming)
    except WebhookRejected as exc:
        return _json(exc.status_code, {"detail": exc.reason})
    accepted = None
    if result.items:
        accepted = await accept_items(ctx.db, channel.id, result.items, body)
        if accepted.stored:
            ctx.wake(["ingest"])
    reply = result.reply
    if reply.body is not None:
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
    summary = {"accepted": accepted.stored if accepted else 0, "duplicates": accepted.duplicates if accepted else 0}
    return _json(reply.status_code, summary)
