"""The raw baseline for ``bench/ingest.py``: what one process can ingest with no framework at all.

A plain ASGI callable served by uvicorn exactly as ``okno serve`` serves okno (uvloop, httptools
with okno's one-write responses, ``okno.kit.http_protocol``, no access log, one process). Each request: read the body, parse it with orjson, insert one row
through aiosqlite with okno's SQLite pragmas, commit, answer 200 JSON. Writes are serialised on
one connection (one transaction per request), as okno serialises them on its single writer.

    python bench/_raw_baseline.py --port 8123 --db /tmp/baseline.db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import orjson
import uvicorn

from okno.kit.http_protocol import CorkedHttpToolsProtocol

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    sender_phone TEXT,
    received_at TEXT NOT NULL
)
"""
INSERT = "INSERT INTO inbound (message_id, text, sender_phone, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
JSON_HEADERS = [(b"content-type", b"application/json")]


DB_ENV = "RAW_BASELINE_DB"


class BaselineApp:
    @classmethod
    def from_environment(cls) -> BaselineApp:
        """The app of one of several server processes (``--workers``): the file comes from the environment."""
        return cls(os.environ[DB_ENV])

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.conn: aiosqlite.Connection | None = None
        self.write_lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.conn is not None:
                    await self._close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _open(self) -> None:
        self.conn = await aiosqlite.connect(self.db_path)
        for pragma in PRAGMAS:
            await self.conn.execute(pragma)
        await self.conn.execute(SCHEMA)
        await self.conn.commit()

    async def _close(self) -> None:
        await self.conn.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            await _respond(send, 200, {"status": "ok"})
            return
        if scope["method"] != "POST":
            await _respond(send, 405, {"detail": "POST only"})
            return
        try:
            data = orjson.loads(await _read_body(receive))
            row = (str(data["message_id"]), str(data.get("text", "")), (data.get("from") or {}).get("phone"))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            await _respond(send, 422, {"detail": "invalid payload"})
            return
        stored = await self._insert(*row)
        await _respond(send, 200, {"accepted": stored, "duplicates": 1 - stored})

    async def _insert(self, message_id: str, text: str, phone: str | None) -> int:
        assert self.conn is not None
        async with self.write_lock:
            cursor = await self.conn.execute(INSERT, (message_id, text, phone, datetime.now(UTC).isoformat()))
            await self.conn.commit()
        return cursor.rowcount


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = orjson.dumps(payload)
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(app_class: type[BaselineApp] = BaselineApp, doc: str | None = __doc__) -> None:
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file to write")
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port (uvicorn's own workers)")
    args = parser.parse_args()
    app: object = app_class(args.db)
    if args.workers > 1:  # uvicorn's workers import the app by name: a factory reading the file from the environment
        os.environ[DB_ENV] = args.db
        module = app_class.__module__ if app_class.__module__ != "__main__" else Path(sys.argv[0]).stem
        app = f"{module}:{app_class.__name__}.from_environment"
    uvicorn.run(
        app,
        factory=args.workers > 1,
        workers=args.workers if args.workers > 1 else None,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http=CorkedHttpToolsProtocol,  # okno's own (a response in one socket write)
        lifespan="on",
    )


if __name__ == "__main__":
    main()
