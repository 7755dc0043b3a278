"""A fake guestbook that speaks the same HTTP contract as the real one, for tests and demos.

``GET /api/entries?after=&limit=`` (bearer key) → ``{"entries": [...], "has_more": bool}``;
``POST /api/replies {to, text, idempotency_key}`` → ``{"id": ...}`` (the same key answers the
same id). ``revoke_key()`` makes every call answer 401 until ``restore_key()``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakeGuestbook:
    api_key: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    revoked: bool = False
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_entry(self, handle: str, text: str, *, name: str = "", phone: str | None = None, phone_verified: bool = False, email: str | None = None) -> int:
        entry_id = next(self._ids)
        author = {"handle": handle, "name": name, "phone": phone, "phone_verified": phone_verified, "email": email}
        self.entries.append({"id": entry_id, "author": author, "text": text})
        return entry_id

    def revoke_key(self) -> None:
        self.revoked = True

    def restore_key(self) -> None:
        self.revoked = False

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/entries", self._list, methods=["GET"]), Route("/api/replies", self._reply, methods=["POST"])])

    def _refused(self, request: Request) -> JSONResponse | None:
        if self.revoked or request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        return None

    async def _list(self, request: Request) -> JSONResponse:
        self.polls += 1
        if (refused := self._refused(request)) is not None:
            return refused
        after, limit = int(request.query_params.get("after", 0)), int(request.query_params.get("limit", 50))
        newer = [e for e in self.entries if e["id"] > after]
        return JSONResponse({"entries": newer[:limit], "has_more": len(newer) > limit})

    async def _reply(self, request: Request) -> JSONResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        body = await request.json()
        for reply in self.replies:
            if reply["idempotency_key"] == body["idempotency_key"]:
                return JSONResponse({"id": reply["id"]})
        reply = {"id": f"reply-{len(self.replies) + 1}", **body}
        self.replies.append(reply)
        return JSONResponse({"id": reply["id"]}, status_code=201)
