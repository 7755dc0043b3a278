"""The HTTP floor for ``bench/ingest_wrk.py --floor``: the raw baseline without its insert.

The same plain ASGI callable under the same uvicorn settings as ``_raw_sqlite_baseline.py``
(uvloop, httptools with okno's one-write responses, no access log, one process): read the body, parse it with orjson, pick the
same three fields, answer 200 JSON, store nothing. What is left is what serving one request
costs before any work on it: the part of the raw baseline's CPU per message that okno pays too,
whatever it does with the message.

    python bench/_http_floor.py --port 8123 --db /tmp/unused.db
"""

from __future__ import annotations

from _raw_baseline import BaselineApp, main


class HttpFloorApp(BaselineApp):
    """The baseline's request handling; no database is opened and nothing is stored."""

    async def _open(self) -> None:
        return None

    async def _close(self) -> None:
        return None

    async def _insert(self, message_id: str, text: str, phone: str | None) -> int:
        return 1


if __name__ == "__main__":
    main(HttpFloorApp, __doc__)
