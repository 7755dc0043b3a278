"""A value read from the database and kept briefly, one per ``Database`` (tests and tools may
hold several): the "is anything configured at all?" checks that event handlers make on every
event, so that an installation without rules or policies pays no query for them."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.db import Database

T = TypeVar("T")


class DatabaseCache(Generic[T]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[int, tuple[float, T]] = {}  # id(db) → (expires, value)

    async def get(self, db: Database, load: Callable[[AsyncSession], Awaitable[T]]) -> T:
        entry = self._entries.get(id(db))
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with db.reading() as session:
            value = await load(session)
        self.put(db, value)
        return value

    def put(self, db: Database, value: T, *, for_good: bool = False) -> None:
        """Set the value (a change made in this process); ``for_good``: never read it again."""
        self._entries[id(db)] = (math.inf if for_good else time.monotonic() + self.seconds, value)

    def forget(self) -> None:
        self._entries.clear()
