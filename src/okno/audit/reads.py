"""Reads of customer data, audited without a write transaction per page view.

A request collects what it showed (``PageReads.saw``) and hands ONE entry to the process's
``ReadLog`` when it succeeds; the log writes every entry gathered in the last
``OKNO_READ_AUDIT_FLUSH_SECONDS`` in one transaction (one ``executemany``). On SQLite's single
writer that is one short write a second instead of one per GET. The price is the window: a
process that crashes loses at most that much of the read log (changes are audited in their own
transaction and never lost); ``close()`` writes what is pending on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import insert

from okno.kit.db import Database
from okno.kit.time import utcnow
from okno.models import AuditEntry

log = structlog.get_logger()

MAX_PENDING = 50_000  # beyond this (the database refusing writes for long) the oldest are dropped, loudly


@dataclass
class PageReads:
    """What one request showed of customer data. The first ``saw`` names the entry's action;
    later calls add the customers and conversations they showed to the same entry."""

    actor_id: int | None
    action: str | None = None
    customer_ids: list[int] = field(default_factory=list)
    conversation_ids: list[int] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # "<message id>/<index>" of files downloaded

    def saw(
        self, action: str, *, customer_ids: list[int] | int | None = None, conversation_ids: list[int] | int | None = None, attachment: str | None = None
    ) -> None:
        if self.action is None:
            self.action = action
        if attachment is not None and attachment not in self.attachments:
            self.attachments.append(attachment)
        for target, ids in ((self.customer_ids, customer_ids), (self.conversation_ids, conversation_ids)):
            for one in [ids] if isinstance(ids, int) else ids or []:
                if one not in target:
                    target.append(one)

    def entry(self, *, ip: str, path: str) -> dict[str, Any] | None:
        if self.action is None:
            return None
        single = self.customer_ids[0] if len(self.customer_ids) == 1 else None
        data: dict[str, Any] = {"ip": ip, "path": path}
        if self.conversation_ids:
            data["conversation_ids"] = self.conversation_ids
        if self.attachments:
            data["attachments"] = self.attachments
        if len(self.customer_ids) > 1:
            data["customer_ids"] = self.customer_ids
        if single is not None:
            subject = ("customer", str(single))
        elif len(self.conversation_ids) == 1:
            subject = ("conversation", str(self.conversation_ids[0]))
        else:
            subject = ("customers", str(len(self.customer_ids)))
        return {
            "actor_id": self.actor_id, "action": self.action, "subject_type": subject[0], "subject_id": subject[1],
            "customer_id": single, "data": data, "at": utcnow(),
        }  # fmt: skip


class ReadLog:
    """The process's buffer of read entries and its one writer."""

    def __init__(self, db: Database, *, flush_seconds: float) -> None:
        self._db = db
        self._flush_seconds = flush_seconds
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        if self._joined(entry):
            return
        self._pending.append(entry)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            del self._pending[:dropped]
            log.error("read_audit_dropped", entries=dropped)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._flush_soon())

    def _joined(self, entry: dict[str, Any]) -> bool:
        """Attachment downloads join a pending entry of the same reader, conversation and action:
        a page that shows five images inline is one entry (``data.attachments`` lists them), not
        five. Entries already written are not touched, so a window is the most one entry spans."""
        files = entry["data"].get("attachments")
        if not files:
            return False
        key = (entry["actor_id"], entry["action"], entry["customer_id"], entry["data"].get("conversation_ids"), entry["data"]["ip"])
        for pending in reversed(self._pending):
            data = pending["data"]
            if (pending["actor_id"], pending["action"], pending["customer_id"], data.get("conversation_ids"), data["ip"]) == key and "attachments" in data:
                data["attachments"] = [*data["attachments"], *(f for f in files if f not in data["attachments"])]
                return True
        return False

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._flush_seconds)
        await self.flush()
        if self._pending:  # the write failed: try again after another window
            self._timer = asyncio.get_running_loop().create_task(self._flush_soon())

    async def flush(self) -> int:
        """Writes what is pending in one transaction; the number of entries written."""
        async with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                async with self._db.transaction() as session:
                    await session.execute(insert(AuditEntry), rows)
            except BaseException as exc:  # kept for the next flush, also when cancelled mid-write
                self._pending[:0] = rows
                if not isinstance(exc, Exception):
                    raise
                log.exception("read_audit_write_failed", entries=len(rows))
                return 0
            return len(rows)

    async def close(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
