"""The synchronous raw baseline for ``bench/ingest_wrk.py``: the least work one process can do per message.

A plain ASGI callable served by uvicorn exactly as ``okno serve`` serves okno (uvloop, httptools
with okno's one-write responses, ``okno.kit.http_protocol``, no access log, one process). Each request: read the body, parse it with orjson, run ONE
synchronous ``sqlite3`` insert on the event loop's own thread (no thread hop, no lock: the loop
is the only writer) into a table with a unique key, in autocommit mode (the insert is its own
transaction) with WAL and okno's ``synchronous=NORMAL``, answer 200 JSON.

    python bench/_raw_sqlite_baseline.py --port 8123 --db /tmp/baseline.db
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from _raw_baseline import INSERT, SCHEMA, BaselineApp, main

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
)


def open_database(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # autocommit
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(SCHEMA)
    return conn


class SyncBaselineApp(BaselineApp):
    """The aiosqlite baseline's HTTP handling with a synchronous insert on the loop's thread."""

    async def _open(self) -> None:
        self.conn = open_database(self.db_path)

    async def _close(self) -> None:
        self.conn.close()

    async def _insert(self, message_id: str, text: str, phone: str | None) -> int:
        return self.conn.execute(INSERT, (message_id, text, phone, datetime.now(UTC).isoformat())).rowcount


if __name__ == "__main__":
    main(SyncBaselineApp, __doc__)
