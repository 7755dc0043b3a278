"""Refuses input okno cannot store before any route runs: ids beyond 64 bits in the path (404), and
NUL characters or lone surrogates (okno.kit.nul, 422) in the path, the query string, a JSON body, an
urlencoded form or the text fields of a multipart form (file parts are bytes and pass untouched).

One rule for every route and both databases, before a route runs: PostgreSQL would answer 500
to a NUL half-way through a transaction, SQLite would store it. Provider webhooks take their
own fast path and are not seen here (adapters validate what providers send).
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okno.kit.bounds import path_id_out_of_range
from okno.kit.nul import bad_text, form_bad_text, json_bad_text

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _refuse(send: Send, where: str) -> None:
    await _answer(send, 422, f"NUL characters and unpaired surrogates are not accepted ({where})")


async def _answer(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _content_type(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value  # as sent: a multipart boundary is case-sensitive
    return b""


def multipart_bad_text(raw: bytes, content_type: bytes) -> bool:
    """A text field (a part without a file name) of a multipart body holds a NUL."""
    marker = content_type.partition(b"boundary=")[2].split(b";")[0].strip().strip(b'"')  # case kept
    if not marker:
        return False
    for part in raw.split(b"--" + marker):
        head, _, value = part.partition(b"\r\n\r\n")
        if b"filename=" in head.lower():
            continue
        if b"\x00" in value or bad_text(value.decode("utf-8", "replace")):
            return True
    return False


def _scanner(content_type: bytes):
    kind = content_type.lower()
    if kind.startswith(b"multipart/form-data"):
        return lambda raw: multipart_bad_text(raw, content_type)
    if kind.startswith(b"application/x-www-form-urlencoded"):
        return form_bad_text
    if b"json" in kind or kind.startswith(b"text/"):
        return json_bad_text
    return None  # bytes a route stores as bytes


class InputGuard:
    """``scan_limit``: a body larger than this is passed on unscanned (the route refuses it as too
    large anyway); the guard never holds more than that in memory."""

    def __init__(self, app: ASGIApp, scan_limit: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.scan_limit = scan_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if bad_text(scope["path"]):
            await _refuse(send, "in the path")
            return
        if path_id_out_of_range(scope["path"]):  # ids are 64-bit: no such row, whatever the route
            await _answer(send, 404, "not found: an id in the path is larger than 2^63 - 1")
            return
        if form_bad_text(scope.get("query_string", b"")):
            await _refuse(send, "in the query string")
            return
        scan = _scanner(_content_type(scope)) if scope["method"] in _BODY_METHODS and not scope["path"].startswith("/webhooks/") else None
        if scan is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size, complete = 0, False
        while size <= self.scan_limit:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                complete = True
                break
        if complete and scan(b"".join(m.get("body", b"") for m in messages)):
            await _refuse(send, "in the request body")
            return
        replay = iter(messages)

        async def replaying() -> Message:
            for message in replay:
                return message
            return await receive()

        await self.app(scope, replaying, send)
