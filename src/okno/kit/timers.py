"""Durable timers that survive restarts and fire once.

A timer is a row (kind, ref_id, due_at). Scheduling the same (kind, ref_id) again moves it, so a
deadline that changes never leaves a stale twin behind. The worker claims due rows (``SKIP
LOCKED`` on PostgreSQL; SQLite has one writer) and runs each kind's handler in the same
transaction that marks the row fired: the handler's effects and "fired" commit together, once.
A handler that raises is rolled back to its savepoint and retried with backoff; after
``max_attempts`` the row is parked (fired, with the error) for a person to look at. A handler
that cannot decide yet raises :class:`FireLater`: the row is moved on, no attempt counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.db import Database
from okno.kit.db_wake import request_wake
from okno.kit.time import utcnow
from okno.models import Timer

log = structlog.get_logger()

TimerHandler = Callable[[AsyncSession, Timer, datetime], Awaitable[None]]
WORKER = "timers"
PARKED = "parked"


class FireLater(Exception):  # noqa: N818 - an answer, not an error
    """A handler's "not yet": its effects are rolled back and the timer fires again at ``at``."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"fire again at {at.isoformat()}")
        self.at = at


async def schedule_timer(session: AsyncSession, kind: str, ref_id: int, due_at: datetime) -> None:
    await schedule_timers(session, [(kind, ref_id, due_at)])


async def schedule_timers(session: AsyncSession, timers: Iterable[tuple[str, int, datetime]]) -> None:
    """Several ``(kind, ref_id, due_at)`` in one statement (each moves its twin, as above)."""
    rows = [
        {"kind": kind, "ref_id": ref_id, "due_at": due_at, "fired_at": None, "attempts": 0, "last_error": None}
        for kind, ref_id, due_at in timers
    ]
    if not rows:
        return
    table = Timer.__table__
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "ref_id"],
        set_={"due_at": statement.excluded.due_at, "fired_at": None, "attempts": 0, "last_error": None},
    )
    await session.execute(statement, rows)
    if min(row["due_at"] for row in rows) <= utcnow() + timedelta(seconds=1):
        request_wake(session, WORKER)


async def cancel_timers(session: AsyncSession, kind: str, ref_ids: Iterable[int]) -> None:
    ids = list(ref_ids)
    if ids:
        await session.execute(delete(Timer).where(Timer.kind == kind, Timer.ref_id.in_(ids)))


async def cancel_timers_of_kinds(session: AsyncSession, timers: Iterable[tuple[str, int]]) -> None:
    """Several ``(kind, ref_id)`` in one statement."""
    by_kind: dict[str, list[int]] = {}
    for kind, ref_id in timers:
        by_kind.setdefault(kind, []).append(ref_id)
    if by_kind:
        await session.execute(delete(Timer).where(or_(*(and_(Timer.kind == kind, Timer.ref_id.in_(ids)) for kind, ids in by_kind.items()))))


class TimerWorker:
    def __init__(
        self, db: Database, handlers: dict[str, TimerHandler], *, batch_size: int = 100, max_attempts: int = 8
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.batch_size = batch_size
        self.max_attempts = max_attempts

    async def drain_once(self) -> int:
        now = utcnow()
        async with self.db.reading() as session:  # the usual answer is "nothing due": no write lock for it
            due = await session.scalar(select(Timer.id).where(Timer.fired_at.is_(None), Timer.due_at <= now).limit(1))
        if due is None:
            return 0
        async with self.db.transaction() as session:
            timers = (
                await session.scalars(
                    select(Timer)
                    .where(Timer.fired_at.is_(None), Timer.due_at <= now)
                    .order_by(Timer.due_at, Timer.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for timer in timers:
                await self._fire(session, timer, now)
        return len(timers)

    async def _fire(self, session: AsyncSession, timer: Timer, now: datetime) -> None:
        timer_id, kind, ref_id, attempts = timer.id, timer.kind, timer.ref_id, timer.attempts
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for timer kind {kind!r}")
            async with session.begin_nested():
                await handler(session, timer, now)
        except FireLater as later:
            values = {"due_at": later.at}
        except Exception as exc:
            log.exception("timer_failed", kind=kind, ref_id=ref_id)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            attempts += 1
            if attempts >= self.max_attempts:
                values = {"attempts": attempts, "fired_at": now, "last_error": f"{PARKED}: {error}"}
            else:
                values = {"attempts": attempts, "due_at": now + timedelta(seconds=min(2**attempts, 600)), "last_error": error}
        else:
            values = {"fired_at": now}
        await session.execute(update(Timer).where(Timer.id == timer_id).values(**values))
