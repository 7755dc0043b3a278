"""The widget's HTTP surface: its script, visitor sessions (CORS per channel) and the socket."""

from __future__ import annotations

import functools
import math
from importlib.resources import files

import orjson
from fastapi import APIRouter, Request, Response, WebSocket
from pydantic import BaseModel, Field

from okno.channels.adapters.widget.adapter import WidgetConfig
from okno.channels.adapters.widget.limits import widget_limits
from okno.channels.adapters.widget.media import router as media_router
from okno.channels.adapters.widget.socket import VisitorSocket
from okno.channels.adapters.widget.streams import VisitorHub
from okno.channels.adapters.widget.tokens import issue_token, new_visitor_id, visitor_from_token
from okno.channels.adapters.widget.verification import CodeVerifier
from okno.channels.directory import LiveChannel
from okno.channels.runtime import AdapterRuntime, Runtime, adapter_runtime
from okno.channels.typing import report_customer_typing
from okno.kit.bounds import MAX_ID
from okno.kit.forwarded import client_ip, trusted_networks

router = APIRouter(tags=["widget"])
router.include_router(media_router)  # files operators send, opened with the visitor's token
SCRIPT = files("okno.channels.adapters.widget").joinpath("static/widget.js")

# WebSocket close codes (4000–4999 are the application's own)
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_NOT_FOUND = 4404


class SessionIn(BaseModel):
    token: str | None = Field(default=None, max_length=200)


async def _widget(runtime: AdapterRuntime, channel_id: int) -> LiveChannel | None:
    if not 0 < channel_id <= MAX_ID:
        return None
    channel = await runtime.channel(channel_id)
    return channel if channel is not None and isinstance(channel.config, WidgetConfig) else None


def _json(body: dict, status: int = 200, origin: str | None = None, retry_after: float = 0) -> Response:
    headers = {"access-control-allow-origin": origin, "vary": "Origin"} if origin else {}
    if retry_after:
        headers["retry-after"] = str(math.ceil(retry_after))
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@router.get("/widget/{channel_id}.js", include_in_schema=False)
async def widget_script(channel_id: int, runtime: Runtime) -> Response:
    channel = await _widget(runtime, channel_id)
    if channel is None:
        return Response("/* okno: no such chat widget */", status_code=404, media_type="application/javascript")
    return Response(_script(channel.config.language), media_type="application/javascript", headers={"cache-control": "public, max-age=300"})


@functools.cache
def _script(language: str) -> bytes:
    """The widget's script with the channel's language setting filled in (one of a closed list)."""
    placeholder = b'var CONFIGURED_LANG = "auto";'
    script = SCRIPT.read_bytes()
    assert placeholder in script, "widget.js lost its language placeholder"
    return script.replace(placeholder, b'var CONFIGURED_LANG = "%s";' % language.encode("ascii"))


@router.options("/widget/{channel_id}/session", include_in_schema=False)
async def session_preflight(channel_id: int, request: Request, runtime: Runtime) -> Response:
    channel = await _widget(runtime, channel_id)
    origin = request.headers.get("origin")
    if channel is None or not channel.config.allows(origin):
        return Response(status_code=403)
    return Response(status_code=204, headers={
        "access-control-allow-origin": origin or "*",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "600",
        "vary": "Origin",
    })


@router.post("/widget/{channel_id}/session", summary="Start or resume a website visitor's chat session")
async def visitor_session(channel_id: int, body: SessionIn, request: Request, runtime: Runtime) -> Response:
    channel = await _widget(runtime, channel_id)
    if channel is None:
        return _json({"detail": f"chat widget {channel_id} not found"}, 404)
    origin = request.headers.get("origin")
    if origin is not None and not channel.config.allows(origin):
        return _json({"detail": f"origin {origin} may not embed this chat"}, 403)
    wait = await widget_limits(runtime).session(client_ip(request.scope, trusted_networks(runtime.settings.trusted_proxies)))
    if wait:
        return _json({"detail": "too many chat sessions from this address; try again later"}, 429, origin=origin, retry_after=wait)
    secret = channel.config.token_secret.get_secret_value()
    visitor_id = visitor_from_token(secret, channel_id, body.token) if body.token else None
    token = body.token if visitor_id else None
    if visitor_id is None:
        visitor_id = new_visitor_id()
        token = issue_token(secret, channel_id, visitor_id)
    return _json(
        {"token": token, "visitor_id": visitor_id, "title": channel.config.title, "greeting": channel.config.greeting},
        origin=origin,
    )


@router.websocket("/ws/widget/{channel_id}")
async def visitor_socket(websocket: WebSocket, channel_id: int) -> None:
    runtime = adapter_runtime(websocket)
    channel = await _widget(runtime, channel_id)
    visitor_id = None
    if channel is not None:
        token = websocket.query_params.get("token", "")
        visitor_id = visitor_from_token(channel.config.token_secret.get_secret_value(), channel_id, token)
    # accept first, then close with a 44xx code: a refusal during the handshake reaches the
    # browser as a bare failure, and the widget must know to fetch a new token
    await websocket.accept()
    origin = websocket.headers.get("origin")
    if channel is None:
        await websocket.close(code=CLOSE_NOT_FOUND, reason="no such chat widget")
    elif origin is not None and not channel.config.allows(origin):
        await websocket.close(code=CLOSE_FORBIDDEN_ORIGIN, reason="origin may not embed this chat")
    elif visitor_id is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="invalid or expired visitor token")
    else:
        last_seq = websocket.query_params.get("last_seq", "0")
        secret = channel.config.token_secret.get_secret_value().encode()
        verifier = CodeVerifier(runtime, channel_id, visitor_id, secret, channel.config.title)
        session = VisitorSocket(websocket, runtime.db, runtime.hub(VisitorHub), channel_id, visitor_id, lambda: runtime.wake("ingest"), verifier,
                                limits=widget_limits(runtime), ip=client_ip(websocket.scope, trusted_networks(runtime.settings.trusted_proxies)),
                                report_typing=functools.partial(report_customer_typing, runtime, kind="web", value=visitor_id))
        await session.serve(int(last_seq) if last_seq.isdigit() else 0)
