"""The website widget's other side for the contract suite: a visitor's browser tab.

okno is the widget's provider, so there is no outside API to fake; this speaks the visitor's half
of the real WebSocket (``/ws/widget/{channel_id}``) against okno served on loopback. Visitor
tokens are minted with the channel's ``token_secret`` exactly as ``POST /widget/{id}/session``
mints them, so a test can name its visitor. A socket the server closes with a 44xx code is
reported as the HTTP status the code mirrors (4401 → 401), so the contract can treat every
channel's refusals alike.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from okno.channels.adapters.widget.tokens import issue_token

SITE = "https://shop.example"
TOKEN_SECRET = "contract-widget-token-secret-0123456789"


@dataclass
class FakeVisitor:
    token_secret: str = TOKEN_SECRET
    okno_url: str = ""  # okno served on loopback (set by the test before connect)
    channel_id: int = 0
    last_delivery: tuple[str, dict[str, Any]] | None = None  # (visitor id, frame)
    _client_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def connect(self, _okno: httpx.AsyncClient, webhook_url: str) -> None:
        self.channel_id = int(webhook_url.rstrip("/").rsplit("/", 1)[1])

    def channel_config(self) -> dict[str, Any]:
        return {"allowed_origins": [SITE], "title": "Поддержка", "token_secret": self.token_secret}

    def _url(self, visitor_id: str, *, secret: str | None = None, last_seq: int = 0) -> str:
        token = issue_token(secret or self.token_secret, self.channel_id, visitor_id)
        ws = self.okno_url.replace("http://", "ws://", 1)
        return f"{ws}/ws/widget/{self.channel_id}?token={token}&last_seq={last_seq}"

    async def _exchange(self, visitor_id: str, frames: list[dict[str, Any]], *, secret: str | None = None) -> httpx.Response:
        """Open a tab, send ``frames``, wait until the server has handled all of them (a ``pong``
        answers the trailing ``ping`` only after the frames before it), close the tab."""
        replies: list[dict[str, Any]] = []
        try:
            async with connect(self._url(visitor_id, secret=secret), origin=SITE, open_timeout=5) as ws:
                for frame in [*frames, {"type": "ping"}]:
                    await ws.send(orjson.dumps(frame).decode())
                replies = await _until_pong(ws)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            return httpx.Response(code - 4000 if 4400 <= code < 4600 else 502, text=closed.rcvd.reason if closed.rcvd else "")
        errors = [r for r in replies if r["type"] == "error"]
        return httpx.Response(422 if errors else 200, json={"replies": replies})

    async def deliver_frame(self, visitor_id: str, frame: dict[str, Any]) -> httpx.Response:
        self.last_delivery = (visitor_id, frame)
        return await self._exchange(visitor_id, [frame])

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        return await self.deliver_frame(user, {"type": "message", "client_id": f"c-{next(self._client_ids)}", "text": text})

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        frame = {"type": "message", "client_id": f"c-{next(self._client_ids)}", "text": text}
        return await self._exchange(user, [frame], secret="a-secret-that-is-not-the-channels")

    async def redeliver_last(self) -> httpx.Response:
        """The widget's resend after a reconnect: the same frame, the same ``client_id``."""
        if self.last_delivery is None:
            raise RuntimeError("nothing delivered yet")
        visitor_id, frame = self.last_delivery
        return await self._exchange(visitor_id, [frame])

    async def deliver_status(self, provider_message_id: str, status: str, *, user: str | None = None) -> httpx.Response:
        visitor_id = user or (self.last_delivery[0] if self.last_delivery else "")
        kind = {"delivered": "received", "read": "read"}[status]
        return await self._exchange(visitor_id, [{"type": kind, "message_id": provider_message_id}])

    async def sent_texts(self) -> list[str]:
        """What operators sent to the last visitor: a fresh tab replays the whole stream."""
        if self.last_delivery is None:
            return []
        async with connect(self._url(self.last_delivery[0]), origin=SITE, open_timeout=5) as ws:
            await ws.send(orjson.dumps({"type": "ping"}).decode())
            replayed = await _until_pong(ws)
        return [frame["text"] for frame in replayed if frame["type"] == "message" and frame["from"] == "agent"]


async def _until_pong(ws: ClientConnection, timeout: float = 5.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == "pong":
            return frames
        frames.append(frame)
