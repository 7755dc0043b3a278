""""Is any survey defined at all?", kept per engine: the ingest batch asks it for every batch, and
an installation without surveys must pay no query for them. Once a survey exists it is never
deleted (only switched off), so a yes is kept for good; a no is read again after a while, which
also lets another process's new survey be seen."""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.models.surveys import Survey

RECHECK_SECONDS = 10.0


class _Gate:
    def __init__(self) -> None:
        # sync engine → (checked at, any); weak: a disposed test database's engine takes its answer with it
        self._entries: weakref.WeakKeyDictionary[Any, tuple[float, bool]] = weakref.WeakKeyDictionary()

    async def any(self, session: AsyncSession) -> bool:
        key = _engine_key(session)
        entry = self._entries.get(key)
        if entry is not None and (entry[1] or time.monotonic() - entry[0] < RECHECK_SECONDS):
            return entry[1]
        found = await session.scalar(select(Survey.id).limit(1)) is not None
        self._entries[key] = (time.monotonic(), found)
        return found

    def put(self, session: AsyncSession) -> None:
        self._entries[_engine_key(session)] = (time.monotonic(), True)

    def forget(self) -> None:
        self._entries.clear()


def _engine_key(session: AsyncSession) -> Any:
    bind = session.bind
    return bind.sync_engine if hasattr(bind, "sync_engine") else bind


surveys_defined = _Gate()
