"""Provider-facing inbound: verify, parse, store durably (group commit), answer. Nothing else.

``serve_webhook`` answers ``/webhooks/{channel_id}`` as plain ASGI before FastAPI sees the
request (okno's app dispatches to it first: no telemetry check, no middleware layers, no
dependency solving on the hottest path); the FastAPI routes below call the same handler and
document the endpoint in the OpenAPI schema.
"""

from __future__ import annotations

import time

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers, QueryParams

from okno.kit import metrics
from okno.api.deps import Ctx
from okno.channels.acknowledge import acknowledge_later
from okno.channels.base import InboundMessage, WebhookRejected, WebhookRequest
from okno.channels.ingest import sender_keys
from okno.channels.int_range import out_of_range_int, out_of_range_reason
from okno.context import AppContext
from okno.kit.bounds import MAX_ID

log = structlog.get_logger()
router = APIRouter(tags=["webhooks"])
PREFIX = "/webhooks/"
JSON = "application/json"

Reply = tuple[int, bytes, str]
NO_QUERY = QueryParams(b"")  # immutable: shared by every request without a query string
_JSON_TYPE = (b"content-type", JSON.encode())


def _json(status: int, body: dict[str, Any]) -> Reply:
    return status, orjson.dumps(body), JSON


_SUMMARIES: dict[tuple[int, int], bytes] = {}  # okno's usual 200 answers, written once each


def _summary(stored: int, duplicates: int) -> bytes:
    """``{"accepted": stored, "duplicates": duplicates}`` as JSON, the few usual ones kept written."""
    body = _SUMMARIES.get((stored, duplicates))
    if body is None:
        body = orjson.dumps({"accepted": stored, "duplicates": duplicates})
        if len(_SUMMARIES) < 256:
            _SUMMARIES[stored, duplicates] = body
    return body


class _Headers(Headers):
    """Starlette's request headers over the scope's own list (``Headers(scope=…)`` copies it),
    whose ``get`` looks a name up in one call: ``Mapping.get`` goes through ``__getitem__`` and,
    for a header that is absent, a raised ``KeyError``. The same answer (the first header of
    that name, or ``default``)."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._list = raw if type(raw) is list else list(raw)

    def get(self, key: str, default: Any = None) -> Any:
        name = key.lower().encode("latin-1")
        for header, value in self._list:
            if header == name:
                return value.decode("latin-1")
        return default


def _too_large(ctx: AppContext) -> Reply:
    return _json(413, {"detail": f"body larger than {ctx.settings.webhook_max_body_bytes} bytes"})


async def handle_provider_request(
    ctx: AppContext, channel_id: int, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> Reply:
    if 0 < channel_id <= MAX_ID:
        channel = ctx.channels.cached(channel_id)
        if channel is False:
            channel = await ctx.channels.find(channel_id)
    else:
        channel = None
    if channel is None:
        return _json(404, {"detail": f"channel {channel_id} not found"})
    if not channel.is_active:  # nothing is stored; the provider may retry until it is enabled
        return _json(403, {"detail": f"channel {channel_id} is disabled"})
    try:
        result = channel.adapter.handle_webhook(channel.config, WebhookRequest(method=method, headers=headers, query=query, body=body))
    except WebhookRejected as exc:
        return _json(exc.status_code, {"detail": exc.reason})
    for item in result.items:  # an integer the stored item would not read back: nothing is stored
        where = out_of_range_int(item)
        if where is not None:
            return _json(422, {"detail": out_of_range_reason(where)})
    usable, refused = _split_by_sender(result.items, ctx.settings.default_region)
    if refused and not usable:
        return _json(422, {"detail": refused[0][1]})
    stored = duplicates = 0
    if result.items:
        try:
            accepted = await ctx.intake.submit(channel.id, usable, body, refused)
        except Exception:
            return _json(503, {"detail": "storage unavailable, retry later"})
        stored, duplicates = accepted.stored, accepted.duplicates
        acknowledge_later(channel.adapter, channel.config, usable, ctx.http)  # button presses the provider wants answered
    reply = result.reply
    if reply.body is not None:
        return reply.status_code, reply.body, reply.media_type
    return reply.status_code, _summary(stored, duplicates), JSON


def _split_by_sender(items: list, default_region: str) -> tuple[list, list[tuple[Any, str]]]:
    """Messages whose sender has no usable identity can't be processed; one such message must
    not block the others of a batched provider request, so they are kept apart (stored as failed)."""
    usable, refused = [], []
    for item in items:
        if isinstance(item, InboundMessage):
            keys, rejected = sender_keys(item, default_region)
            if not keys:
                refused.append((item, "no usable sender identity: " + ("; ".join(rejected) or "none given")))
                continue
        usable.append(item)
    return usable, refused


def is_webhook(scope: dict[str, Any]) -> bool:
    """``GET``/``POST /webhooks/<digits>``: what the fast path serves."""
    path = scope.get("path", "")
    return scope["type"] == "http" and path.startswith(PREFIX) and path[len(PREFIX):].isdigit() and scope["method"] in ("GET", "POST")


async def serve_webhook(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
    """One provider request (``is_webhook(scope)``), answered here; ``scope["app"]`` is okno's app."""
    path = scope["path"]
    ctx: AppContext = scope["app"].state["ctx"]  # not ``.state.ctx``: an AttributeError made and dropped before State's __getattr__
    started = time.perf_counter()
    headers = _Headers(scope["headers"])
    try:
        body = await _read_body(receive, headers, ctx.settings.webhook_max_body_bytes)
        if body is None:
            status, payload, media = _too_large(ctx)
        else:
            query_string = scope.get("query_string", b"")
            query = QueryParams(query_string) if query_string else NO_QUERY
            status, payload, media = await handle_provider_request(ctx, int(path[len(PREFIX):]), scope["method"], headers, query, body)
    except Exception:  # in front of FastAPI's error middleware: answer like it would
        log.exception("webhook_failed", path=path)
        status, payload, media = _json(500, {"detail": "internal error"})
    content_type = _JSON_TYPE if media == JSON else (b"content-type", media.encode())
    await send({"type": "http.response.start", "status": status, "headers": [content_type, (b"content-length", b"%d" % len(payload))]})
    await send({"type": "http.response.body", "body": payload})
    if scope["method"] == "POST":
        metrics.INGEST.record(status, time.perf_counter() - started)


async def _read_body(receive: Callable, headers: Headers, limit: int) -> bytes | None:
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    message = await receive()
    chunk = message.get("body", b"")
    if not message.get("more_body"):  # the usual request: its body in one message, nothing joined
        return chunk if len(chunk) <= limit else None
    chunks: list[bytes] = []
    size = 0
    while True:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
        message = await receive()
        chunk = message.get("body", b"")


async def _routed(channel_id: int, request: Request, ctx: AppContext) -> Response:
    body = await request.body()
    if len(body) > ctx.settings.webhook_max_body_bytes:
        status, payload, media = _too_large(ctx)
    else:
        status, payload, media = await handle_provider_request(ctx, channel_id, request.method, request.headers, request.query_params, body)
    return Response(payload, status_code=status, media_type=media)


@router.post("/webhooks/{channel_id}", summary="Provider delivers inbound items")
async def provider_webhook(channel_id: int, request: Request, ctx: Ctx) -> Response:
    return await _routed(channel_id, request, ctx)


@router.get("/webhooks/{channel_id}", summary="Provider handshake (verification challenges)")
async def provider_handshake(channel_id: int, request: Request, ctx: Ctx) -> Response:
    return await _routed(channel_id, request, ctx)
