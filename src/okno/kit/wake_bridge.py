"""Waking the worker process when another process commits work for it.

In one process a commit wakes the workers it asked for directly (``Database.after_commit``).
With ``okno serve`` (embedded workers off) and ``okno worker`` apart, the serving process's
commits have to reach the worker:

- **PostgreSQL**: the serving process sends ``NOTIFY okno_wake, '<worker,worker>'`` after such a
  commit (coalesced: one notification per burst) and the worker ``LISTEN``s, waking exactly
  the workers named. A lost notification costs at most the poll interval.
- **SQLite**: the worker watches ``PRAGMA data_version``, which changes whenever another
  connection commits to the file; a change wakes every worker (each finds out cheaply whether
  it has work). Checked every ``interval`` seconds (50 ms): a read of shared memory, no I/O.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text

from okno.kit.db import Database

log = structlog.get_logger()

CHANNEL = "okno_wake"
Wake = Callable[[Iterable[str]], None]


class SQLiteCommitWatcher:
    """``own_commits`` (this process's writer's commit count; by default none is counted): a change of the file is taken as
    another process's only in an interval in which this process committed nothing — for a worker
    whose serving processes send their wakes another way (okno.channels.handoff) and which commits
    almost everything itself, so that its own commits do not wake every queue 20 times a second;
    another process's commit hidden among its own is found by the queues' poll."""

    def __init__(self, database: Path, wake_all: Callable[[], None], *, interval: float = 0.05,
                 own_commits: Callable[[], int] = lambda: 0) -> None:  # fmt: skip
        self.database = database
        self.wake_all = wake_all
        self.interval = interval
        self.own_commits = own_commits
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="okno-sqlite-commit-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, check_same_thread=False)
        try:
            seen = connection.execute("PRAGMA data_version").fetchone()[0]
            own = self.own_commits()
            while True:
                await asyncio.sleep(self.interval)
                try:
                    now = connection.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    log.exception("sqlite_commit_watcher_failed")
                    continue
                own_before, own = own, self.own_commits()
                if now != seen:
                    seen = now
                    if own == own_before:
                        self.wake_all()
        finally:
            connection.close()


class PostgresWakeListener:
    """The worker's side: ``LISTEN okno_wake`` on a connection of its own."""

    def __init__(self, db: Database, wake: Wake) -> None:
        self.db = db
        self.wake = wake
        self._connection: Any = None

    async def start(self) -> None:
        self._connection = await self.db.writer.connect()
        raw = (await self._connection.get_raw_connection()).driver_connection
        await raw.add_listener(CHANNEL, self._on_notify)

    def _on_notify(self, connection: object, pid: int, channel: str, payload: str) -> None:
        self.wake(name for name in payload.split(",") if name)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class PostgresWakeNotifier:
    """The serving process's side: forwards the wakes of its commits as one NOTIFY per burst."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, names: Iterable[str]) -> None:
        self._pending.update(names)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._send(), name="okno-wake-notify")

    async def _send(self) -> None:
        while self._pending:
            names, self._pending = ",".join(sorted(self._pending)), set()
            try:
                async with self.db.writer.connect() as connection:
                    await connection.execute(text("SELECT pg_notify(:channel, :names)"), {"channel": CHANNEL, "names": names})
                    await connection.commit()
            except Exception:  # the worker's poll interval still finds the work
                log.exception("wake_notify_failed", workers=names)

    async def stop(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
