"""A background loop that drains work when woken (after a commit) or on a poll interval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()


class LoopWorker:
    def __init__(self, name: str, drain: Callable[[], Awaitable[int]], *, poll_seconds: float, min_interval: float = 0.0) -> None:
        self.name = name
        self._drain = drain
        self._poll = poll_seconds
        self._min_interval = min_interval  # after a busy drain, let work accumulate this long
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"okno-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                done = await self._drain()
            except Exception:  # the loop must outlive any single failure
                log.exception("worker_drain_failed", worker=self.name)
                done = 0
            if done:
                if self._min_interval:
                    await asyncio.sleep(self._min_interval)
                continue  # more may be waiting
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
