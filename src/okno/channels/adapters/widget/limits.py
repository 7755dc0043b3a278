"""Rate limits of the website chat: per visitor and per IP address.

One process (the default): a token bucket per key in this process's memory — ``per_minute``
requests may come at once, then one more every ``60 / per_minute`` seconds. Buckets that have
refilled are forgotten, so memory stays bounded by the visitors who are busy right now (and at
most ``MAX_KEYS`` of them).

Several serve processes (``OKNO_WIDGET_LIMITS_SHARED``, on by default with ``OKNO_BUS_URL``): a
visitor's reconnects and an address's sessions spread over the processes, so per-process buckets
would let N processes take N times the limit. The counts then live in ``rate_counters``
(:class:`SharedCounter`): one row per blinded key and minute, a sliding-window estimate over the
current and the previous minute. Each check is one short write transaction (an upsert returning
the count, and the previous minute's count), which is why one process keeps the memory buckets:
on SQLite's single writer it would double the writes a widget message costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from okno.channels.runtime import AdapterRuntime
from okno.kit import pii
from okno.kit.buckets import Buckets
from okno.kit.db import Database
from okno.models import RateCounter

__all__ = ["Buckets", "SharedCounter", "WidgetLimits"]

log = structlog.get_logger()

WINDOW = 60.0  # seconds: the shared counters' minute


@dataclass
class SharedCounter:
    """``per_minute`` requests per key over a sliding minute, counted in the database for every
    process: the current minute's count plus the previous minute's, weighted by how much of it
    the sliding window still covers. A refused request counts too (a flood stays refused)."""

    db: Database
    name: str
    per_minute: int
    clock: Callable[[], float] = time.time
    _swept: float = 0.0

    async def take(self, key: str) -> float:
        now = self.clock()
        minute, into = int(now // WINDOW), now % WINDOW
        blinded = f"{self.name}:{pii.keys().token('rate', key)}"[:64]
        try:
            async with self.db.transaction() as session:
                current = await self._count(session, blinded, minute)
                previous = await session.scalar(select(RateCounter.count).where(RateCounter.key == blinded, RateCounter.minute == minute - 1)) or 0
                if now - self._swept >= WINDOW:  # forget minutes nobody can be limited by any more (once a minute per process)
                    self._swept = now
                    await session.execute(delete(RateCounter).where(RateCounter.minute < minute - 1))
        except SQLAlchemyError:
            log.warning("widget_limit_unavailable", limit=self.name)  # the database is away: the message would not be stored either
            return 0.0
        return _wait(self.per_minute, current, previous, into)

    async def _count(self, session, key: str, minute: int) -> int:  # noqa: ANN001
        if session.bind.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(RateCounter).values(key=key, minute=minute, count=1)
        statement = statement.on_conflict_do_update(index_elements=["key", "minute"], set_={"count": RateCounter.count + 1})
        return int(await session.scalar(statement.returning(RateCounter.count)))


def _wait(per_minute: int, current: int, previous: int, into: float) -> float:
    """0 when the sliding estimate allows this request, else the seconds until it would."""
    if previous * (WINDOW - into) / WINDOW + current <= per_minute:
        return 0.0
    if current > per_minute:
        return WINDOW - into  # this minute alone is full: wait for the next
    # the previous minute's weight has to fall until the estimate fits
    fits_at = WINDOW * (1.0 - (per_minute - current) / previous)
    return max(0.1, min(fits_at, WINDOW) - into)


class _Local:
    """The memory bucket behind the same ``await take(key)`` as :class:`SharedCounter`."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets

    async def take(self, key: str) -> float:
        return self.buckets.take(key)


LIMITS = (
    ("messages", "widget_messages_per_minute", 30),
    ("messages_per_ip", "widget_messages_per_minute_per_ip", 120),
    ("sessions_per_ip", "widget_sessions_per_minute_per_ip", 20),
    ("receipts", "widget_receipts_per_minute", 120),
)


class WidgetLimits:
    """The process's widget limits (one instance per process, through :func:`widget_limits`)."""

    def __init__(self) -> None:
        self._build({}, None)
        self.configured = False

    def configure(self, limits: Mapping[str, int], shared: Database | None = None) -> None:
        """``shared``: count in this database for every process, instead of in memory."""
        self._build(limits, shared)
        self.configured = True

    def _build(self, limits: Mapping[str, int], shared: Database | None) -> None:
        for name, setting, default in LIMITS:
            per_minute = limits.get(setting, default)
            setattr(self, name, SharedCounter(shared, name, per_minute) if shared is not None else _Local(Buckets(per_minute)))

    async def message(self, channel_id: int, visitor_id: str, ip: str) -> float:
        """Seconds to wait before this visitor may send (0: go on)."""
        return await self.messages.take(f"{channel_id}:{visitor_id}") or await self.messages_per_ip.take(ip)

    async def session(self, ip: str) -> float:
        return await self.sessions_per_ip.take(ip)

    async def receipt(self, channel_id: int, visitor_id: str) -> float:
        return await self.receipts.take(f"{channel_id}:{visitor_id}")


def widget_limits(runtime: AdapterRuntime) -> WidgetLimits:
    limits = runtime.hub(WidgetLimits)
    if not limits.configured:
        limits.configure(runtime.settings.rate_limits, runtime.db if runtime.settings.shared_limits else None)
    return limits
