"""The synchronous raw baseline for ``bench/ingest_wrk.py``: the least work one process can do per message.

A plain ASGI callable served by uvicorn exactly as ``okno serve`` serves okno (uvloop, httptools,
no access log, one process). Each request: read the body, parse it with orjson, run ONE
synchronous ``sqlite3`` insert on the event loop's own thread (no thread hop, no lock: the loop
is the only writer) into a table with a unique key, in autocommit mode (the insert is its own
transaction) with WAL and okno's ``synchronous=NORMAL``, answer 200 JSON.

    python bench/_raw_sqlite_baseline.py --port 8123 --db /tmp/baseline.db
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
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


def open_database(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # autocommit
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(SCHEMA)
    return conn


class SyncBaselineApp:
    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.conn: sqlite3.Connection | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.conn = open_database(self.db_path)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.conn is not None:
                    self.conn.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

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
        assert self.conn is not None
        stored = self.conn.execute(INSERT, (*row, datetime.now(UTC).isoformat())).rowcount
        await _respond(send, 200, {"accepted": stored, "duplicates": 1 - stored})


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file to write")
    args = parser.parse_args()
    uvicorn.run(
        SyncBaselineApp(args.db),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
