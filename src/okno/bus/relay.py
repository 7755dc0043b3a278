"""Delivers committed outbox rows to their subscribers, at least once, each subscriber on its own.

Hot path: the relay leases unpublished rows (PostgreSQL: ``SKIP LOCKED`` with the lease pushed
into ``next_attempt_at``, so several relays can run; SQLite: one worker process holds the
database's worker lock, so reading is enough and the single writer stays with the webhooks),
runs every subscriber with no transaction open (they open their own), and marks the batch
published in one transaction. Nothing else is written while every subscriber succeeds.

A subscriber that raises gets its own ``event_deliveries`` row (written in that same settling
transaction, so an event is published only once every subscriber either ran or has its retry
row): it alone is retried with backoff, and after ``max_attempts`` parked for a person
(``GET /api/v1/events/deliveries``, re-run with ``POST …/{id}/retry``). The others are never
re-run and later events are not held up. A crash before the settle re-delivers the whole
event (subscribers are idempotent); a crash during a retry leaves its row pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import orjson
from sqlalchemy import BigInteger, String, and_, any_, bindparam, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event, Transport
from okno.kit.bulk import driver_sql
from okno.kit.db import Database, insert_ignoring_duplicates
from okno.kit.sqlite_driver import read_outside_transaction
from okno.kit.time import utcnow
from okno.models import EventDelivery, OutboxEvent

LEASE = timedelta(seconds=60)
PARKED = "parked"
PENDING, DONE = "pending", "done"
RESCAN = timedelta(seconds=5)  # how often due retries are looked for when none is known to be due


@dataclass(frozen=True)
class RetryBackoff:
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base_seconds * 2 ** (attempts - 1), self.max_seconds))


# the hot statements, built once (SQLAlchemy reuses their cache key and compiled form)
# PostgreSQL's lease in one statement: the due rows locked (skipping those another relay holds),
# leased and returned (in no particular order: sorted by id after)
_LEASE_POSTGRESQL = (
    text(
        "WITH due AS MATERIALIZED (SELECT id FROM outbox WHERE published_at IS NULL"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= :now) ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " UPDATE outbox SET next_attempt_at = :until FROM due WHERE outbox.id = due.id"
        " RETURNING outbox.id, outbox.topic, outbox.payload, outbox.created_at"
    )
    .bindparams(bindparam("now", type_=OutboxEvent.next_attempt_at.type), bindparam("until", type_=OutboxEvent.next_attempt_at.type))
    .columns(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
)
_OUTBOX = OutboxEvent.__table__  # Core: no ORM bulk-update bookkeeping for a plain UPDATE
# the batch's ids as one bound value (a JSON array on SQLite, an array on PostgreSQL): one
# statement text whatever the batch's size, instead of an expanding IN rendered for each size
_IDS_IN = {
    "sqlite": _OUTBOX.c.id.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids", type_=String)))),
    "postgresql": _OUTBOX.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
}
_PUBLISHED = {
    dialect: update(_OUTBOX).where(ids_in).values(published_at=bindparam("now", type_=_OUTBOX.c.published_at.type), last_error=None)
    for dialect, ids_in in _IDS_IN.items()
}


def _ids(dialect: str, ids: list[int]) -> object:
    return orjson.dumps(ids).decode() if dialect == "sqlite" else ids


# SQLite's lease (OutboxRelay._read_due): the due rows, oldest first, their values converted by hand
_DUE_SQLITE = (
    "SELECT id, topic, payload, created_at FROM outbox WHERE published_at IS NULL"
    " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?"
)
# SQLite's settle (_PUBLISHED's statement), run by the driver in the transaction (kit.bulk.driver_sql)
_PUBLISHED_SQLITE = "UPDATE outbox SET published_at = ?, last_error = NULL WHERE id IN (SELECT value FROM json_each(?))"


@dataclass(frozen=True)
class _Converters:
    moment: Callable[[datetime], object]
    payload: Callable[[object], dict]
    created_at: Callable[[object], datetime]


@cache
def _sqlite_converters(dialect: Dialect) -> _Converters:
    def processor(made: Callable | None) -> Callable:
        return made if made is not None else (lambda value: value)

    columns = OutboxEvent.__table__.c
    return _Converters(
        moment=processor(columns.next_attempt_at.type.bind_processor(dialect)),
        payload=processor(columns.payload.type.result_processor(dialect, None)),
        created_at=processor(columns.created_at.type.result_processor(dialect, None)),
    )


async def events_waiting_up_to(session: AsyncSession, moment: datetime) -> bool:
    """Whether an event recorded at or before ``moment`` may still be waiting for this bus's
    subscribers: its row not yet settled as published (leased, being delivered, or retried after
    a transport failure). Parked rows wait for a person and do not count. On a broker transport a
    published row's subscribers may still be running elsewhere: this answers for the relay's leg only."""
    waiting = (
        select(OutboxEvent.id)
        .where(
            OutboxEvent.published_at.is_(None),
            OutboxEvent.created_at <= moment,
            or_(OutboxEvent.last_error.is_(None), OutboxEvent.last_error.not_like(f"{PARKED}: %")),
        )
        .limit(1)
    )
    return await session.scalar(waiting) is not None


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        batch_size: int = 200,
        max_attempts: int = 10,
        backoff: RetryBackoff | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        self.lease = lease  # PostgreSQL: how long a relay that died keeps its rows from the others
        self.transport = transport
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff = backoff or RetryBackoff()
        self._next_retry_scan: datetime | None = None  # None: look at the next drain

    async def drain_once(self) -> int:
        return await self._publish_new() + await self._retry_due()

    # --- new events -------------------------------------------------------------------------

    async def _publish_new(self) -> int:
        events = await self._lease()
        if not events:
            return 0
        failures: list[tuple[Event, str, str]] = []
        crashed: dict[int, str] = {}
        publish_many = getattr(self.transport, "publish_many", None)
        if publish_many is not None:  # a broker transport: the whole batch in flight at once, no subscriber runs here
            crashed = await publish_many(events)
            await self._settle([e.id for e in events if e.id not in crashed], [], crashed)
            return len(events)
        deliver_many = getattr(self.transport, "deliver_many", None)
        if deliver_many is not None:  # the in-process bus: subscribers with a batch form take the batch at once
            try:
                failed_by_event = await deliver_many(events)
            except Exception as exc:  # the transport itself failed: every event is retried
                crashed = {event.id: f"{type(exc).__name__}: {exc}" for event in events}
                failed_by_event = {}
            for event in events:
                failures.extend((event, name, error) for name, error in failed_by_event.get(event.id, {}).items())
            await self._settle([e.id for e in events if e.id not in crashed], failures, crashed)
            return len(events)
        for event in events:
            try:
                failed = await self.transport.deliver(event)
            except Exception as exc:  # the transport itself failed: the whole event is retried
                crashed[event.id] = f"{type(exc).__name__}: {exc}"
                continue
            failures.extend((event, name, error) for name, error in failed.items())
        await self._settle([e.id for e in events if e.id not in crashed], failures, crashed)
        return len(events)

    async def _lease(self) -> list[Event]:
        now = utcnow()
        due = {"now": now, "limit": self.batch_size}
        if self.db.is_sqlite:
            # one worker process per SQLite database (it holds the worker lock): reading is
            # enough, and it leaves the single writer to the webhooks
            return await self._read_due(now)
        async with self.db.transaction() as session:
            rows = sorted((await session.execute(_LEASE_POSTGRESQL, {**due, "until": now + self.lease})).all(), key=lambda r: r.id)
        return [Event(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]

    async def _read_due(self, now: datetime) -> list[Event]:
        """SQLite: the due rows in one statement outside any transaction, in one hop to the
        reader's thread (``read_outside_transaction``); their values converted by the columns' own
        types, as a session's read converts them."""
        engine = self.db.reader
        convert = _sqlite_converters(engine.dialect)
        async with engine.connect() as connection:
            rows = await read_outside_transaction(connection, _DUE_SQLITE, (convert.moment(now), self.batch_size))
        payload, created_at = convert.payload, convert.created_at
        # the events of one commit share its instant (record_events): each text is converted once
        instants: dict[object, datetime] = {}
        events = []
        for i, topic, p, c in rows:
            moment = instants.get(c)
            if moment is None:
                moment = instants[c] = created_at(c)
            events.append(Event(i, topic, payload(p), moment))  # positional: a third cheaper than by keyword
        return events

    async def _settle(self, published: list[int], failures: list[tuple[Event, str, str]], crashed: dict[int, str]) -> None:
        now = utcnow()
        async with self.db.transaction() as session:
            if published:
                dialect = session.bind.dialect
                if dialect.name == "sqlite":  # straight to the driver: no SQLAlchemy statement machinery
                    await driver_sql(session, _PUBLISHED_SQLITE, (_sqlite_converters(dialect).moment(now), _ids("sqlite", published)))
                else:
                    await session.execute(_PUBLISHED[dialect.name], {"ids": _ids(dialect.name, published), "now": now})
            if failures:
                parked = self.max_attempts <= 1
                rows = [
                    {
                        "event_id": event.id,
                        "subscriber": name,
                        "status": PARKED if parked else PENDING,
                        "attempts": 1,
                        "next_attempt_at": now + self.backoff.delay(1),
                        "locked_until": None,
                        "last_error": error[:2000],
                        "updated_at": now,
                    }
                    for event, name, error in failures
                ]
                # a lease that ran out on PostgreSQL may have let another relay deliver it too
                statement = insert_ignoring_duplicates(EventDelivery.__table__, session.bind.dialect.name, ["event_id", "subscriber"])
                await session.execute(statement, rows)
                self._retry_soon(now + self.backoff.delay(1))
            for event_id, error in crashed.items():
                await self._postpone_event(session, event_id, error, now)

    async def _postpone_event(self, session, event_id: int, error: str, now: datetime) -> None:
        attempts = (await session.execute(select(OutboxEvent.attempts).where(OutboxEvent.id == event_id))).scalar_one() + 1
        # a broker that is away (NATS restarting) is waited for, never given up on: the event
        # itself is fine; only a transport that runs subscribers here parks after max_attempts
        parked = attempts >= self.max_attempts and not hasattr(self.transport, "publish_many")
        delay = timedelta(days=36500) if parked else self.backoff.delay(attempts)
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(
                attempts=attempts,
                last_error=(f"{PARKED}: " if parked else "") + error[:2000],
                next_attempt_at=now + delay,  # a parked row is never leased again; it waits for a person
            )
        )

    # --- one subscriber's retries -----------------------------------------------------------

    def expect_retries(self) -> None:
        """A delivery was made due from outside the relay (an admin re-ran it): look next drain."""
        self._next_retry_scan = None

    def _retry_soon(self, at: datetime) -> None:
        if self._next_retry_scan is None or at < self._next_retry_scan:
            self._next_retry_scan = at

    async def _retry_due(self) -> int:
        now = utcnow()
        if self._next_retry_scan is not None and now < self._next_retry_scan:
            return 0  # the usual case: no statement at all
        due = await self._lease_deliveries(now)
        if not due:
            self._next_retry_scan = await self._next_due(now)
            return 0
        self._next_retry_scan = None  # more may be due: look again next time
        for delivery_id, event, name, attempts in due:
            error = await self._run_one(event, name)
            await self._settle_delivery(delivery_id, attempts + 1, error)
        return len(due)

    async def _lease_deliveries(self, now: datetime) -> list[tuple[int, Event, str, int]]:
        query = (
            select(
                EventDelivery.id, EventDelivery.subscriber, EventDelivery.attempts,
                OutboxEvent.id.label("event_id"), OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at,
            )
            .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
            .where(
                EventDelivery.status == PENDING,
                EventDelivery.next_attempt_at <= now,
                or_(EventDelivery.locked_until.is_(None), EventDelivery.locked_until <= now),
            )
            .order_by(EventDelivery.next_attempt_at, EventDelivery.id)
            .limit(self.batch_size)
        )
        if self.db.is_sqlite:
            async with self.db.reading() as session:
                rows = (await session.execute(query)).all()
        else:
            async with self.db.transaction() as session:
                rows = (await session.execute(query.with_for_update(of=EventDelivery, skip_locked=True))).all()
                if rows:
                    await session.execute(
                        update(EventDelivery).where(EventDelivery.id.in_([r.id for r in rows])).values(locked_until=now + self.lease)
                    )
        return [
            (r.id, Event(id=r.event_id, topic=r.topic, payload=r.payload, created_at=r.created_at), r.subscriber, r.attempts)
            for r in rows
        ]

    async def _next_due(self, now: datetime) -> datetime:
        async with self.db.reading() as session:
            soonest = await session.scalar(
                select(EventDelivery.next_attempt_at)
                .where(EventDelivery.status == PENDING)
                .order_by(EventDelivery.next_attempt_at)
                .limit(1)
            )
        return min(soonest, now + RESCAN) if soonest is not None else now + RESCAN

    async def _run_one(self, event: Event, name: str) -> str | None:
        if name not in self.transport.subscribers_of(event.topic):  # renamed or removed since it failed
            return f"LookupError: no subscriber {name!r} for {event.topic!r} any more"
        try:
            failed = await self.transport.deliver(event, only=name)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return failed.get(name)

    async def _settle_delivery(self, delivery_id: int, attempts: int, error: str | None) -> None:
        now = utcnow()
        if error is None:
            values: dict = {"status": DONE, "attempts": attempts, "locked_until": None, "last_error": None, "updated_at": now}
        elif attempts >= self.max_attempts:
            values = {"status": PARKED, "attempts": attempts, "locked_until": None, "last_error": error[:2000], "updated_at": now}
        else:
            at = now + self.backoff.delay(attempts)
            values = {"attempts": attempts, "next_attempt_at": at, "locked_until": None, "last_error": error[:2000], "updated_at": now}
            self._retry_soon(at)
        async with self.db.transaction() as session:
            table = EventDelivery.__table__
            await session.execute(update(table).where(and_(table.c.id == delivery_id, table.c.status == PENDING)).values(**values))
