"""``okno reports rebuild [--from --to]``: the report projection recomputed from the stored
events, for conversations it never saw (opened before the projection existed) or whose rows
were lost.

The outbox keeps every event okno recorded, so a rebuild is the live projection run again: the
same handlers (``projection.APPLY``), over the same events, in the order they were recorded.

1. **Start** (one transaction): the run is recorded in ``report_rebuilds`` with the newest outbox
   id (``high_water``); the projection rows of the conversations it rebuilds (opened in
   ``[from, to)``, or all) are deleted.
2. **Replay** events up to ``high_water`` in batches of :data:`BATCH`, each batch in one
   transaction together with the run's ``cursor``: a run that stops (a crash, Ctrl-C) resumes at
   the next batch when the command is run again, and never applies a batch twice. An event of a
   conversation being rebuilt is applied again; any other event is applied only if the live
   projection never did (it was still waiting in the relay when the run started).
3. **Catch up and finish**: events recorded since the start are applied (once, by event id) and
   the run is marked finished in the same transaction.

While a run is unfinished the live projection **holds** every event back (it applies nothing
and leaves the event to the run), so the two never interleave; after the run the live projection
carries on, skipping what the run applied. Start and finish take an exclusive PostgreSQL advisory
lock that the live projection takes shared, so no live transaction straddles either moment
(SQLite's single writer serialises them anyway).

Figures come out as the live projection would have made them, with three differences for data
that changed since: a conversation's customer is its customer now (after merges), business
seconds use the team calendars as they are now, and repeat contacts use the window set now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.kit.db import Database, insert_ignoring_duplicates
from okno.kit.errors import Conflict
from okno.kit.time import utcnow
from okno.models import (
    Conversation,
    OutboxEvent,
    ReportConversation,
    ReportConversationChannel,
    ReportRebuild,
    ReportResponse,
    ReportSeenEvent,
    ReportSurvey,
)
from okno.reports import projection

BATCH = 1000
ALWAYS = frozenset({"team.changed", "sla.calendar_changed"})  # cache drops: harmless, needed in order


@dataclass(frozen=True)
class RebuildOutcome:
    run_id: int
    conversations: int
    events: int
    finished: bool
    uncounted: int = 0  # conversations of the range still without a fact row: no stored events name them


async def unfinished(session: AsyncSession) -> ReportRebuild | None:
    return await session.scalar(select(ReportRebuild).where(ReportRebuild.finished_at.is_(None)).order_by(ReportRebuild.id).limit(1))


async def rebuild(
    db: Database, *, start: datetime | None = None, end: datetime | None = None, window: timedelta,
    max_batches: int | None = None, progress: Callable[[ReportRebuild], None] | None = None,
) -> RebuildOutcome:
    """Starts a run for ``[start, end)`` (or every conversation), or resumes the unfinished one
    for the same range; ``max_batches`` stops after that many replay batches (the run stays
    unfinished and resumes next time)."""
    run_id = await _start_or_resume(db, start, end)
    batches = 0
    while max_batches is None or batches < max_batches:
        run = await _replay_batch(db, run_id, window)
        batches += 1
        if progress is not None:
            progress(run)
        if run.cursor >= run.high_water:
            run = await _finish(db, run_id, window)
            return RebuildOutcome(run.id, run.conversations, run.events, True, await _uncounted(db, run))
    async with db.reading() as session:
        run = await session.get(ReportRebuild, run_id)
        assert run is not None
        return RebuildOutcome(run.id, run.conversations, run.events, False)


async def _start_or_resume(db: Database, start: datetime | None, end: datetime | None) -> int:
    async with db.transaction() as session:
        await projection.rebuild_lock(session)
        run = await unfinished(session)
        if run is not None:
            if (run.range_from, run.range_to) != (start, end):
                raise Conflict(
                    "rebuild %(run_id)s of %(range_from)s is unfinished: run it again with the same range to finish it", run_id=run.id, range_from=_describe(run.range_from, run.range_to)
                )
            return run.id
        targets = _targets(start, end)
        count = await session.scalar(select(func.count()).select_from(targets.subquery()))
        for table in (ReportSurvey, ReportResponse, ReportConversationChannel, ReportConversation):
            await session.execute(delete(table).where(table.conversation_id.in_(targets)))
        high_water = await session.scalar(select(func.max(OutboxEvent.id))) or 0
        run = ReportRebuild(range_from=start, range_to=end, high_water=high_water, cursor=0, conversations=count or 0, events=0, started_at=utcnow())
        session.add(run)
        await session.flush()
        return run.id


def _targets(start: datetime | None, end: datetime | None):  # noqa: ANN202
    query = select(Conversation.id)
    if start is not None:
        query = query.where(Conversation.created_at >= start)
    if end is not None:
        query = query.where(Conversation.created_at < end)
    return query


def _describe(start: datetime | None, end: datetime | None) -> str:
    return "every conversation" if start is None and end is None else f"conversations opened in [{start}, {end})"


async def _replay_batch(db: Database, run_id: int, window: timedelta) -> ReportRebuild:
    async with db.transaction() as session:
        run = await session.get(ReportRebuild, run_id, with_for_update=True)
        assert run is not None and run.finished_at is None
        rows = (await session.scalars(
            select(OutboxEvent).where(OutboxEvent.id > run.cursor, OutboxEvent.id <= run.high_water, OutboxEvent.topic.in_(projection.TOPICS))
            .order_by(OutboxEvent.id).limit(BATCH)
        )).all()  # fmt: skip
        if not rows:
            run.cursor = run.high_water
            return run
        targets = await _target_ids(session, run, rows)
        seen = await _seen(session, [r.id for r in rows])
        token = projection.rebuilding.set(True)
        try:
            for row in rows:
                never_applied = row.id not in seen
                if never_applied or row.topic in ALWAYS or _conversation(row.payload) in targets:
                    await _apply(session, row, window, mark_seen=never_applied)
                    run.events += 1
        finally:
            projection.rebuilding.reset(token)
        run.cursor = rows[-1].id
        return run


async def _target_ids(session: AsyncSession, run: ReportRebuild, rows: Iterable[OutboxEvent]) -> set[int]:
    """The conversations of this batch's events that the run rebuilds."""
    named = sorted({c for c in (_conversation(r.payload) for r in rows) if c is not None})
    if not named:
        return set()
    query = _targets(run.range_from, run.range_to).where(Conversation.id.in_(named))
    return set((await session.scalars(query)).all())


async def _uncounted(db: Database, run: ReportRebuild) -> int:
    """Conversations the run was to rebuild that no event opened (rows written without events,
    such as the demo's seed): the projection can't count what the outbox never recorded."""
    async with db.reading() as session:
        missing = _targets(run.range_from, run.range_to).where(
            ~select(ReportConversation.conversation_id).where(ReportConversation.conversation_id == Conversation.id).exists()
        )
        return await session.scalar(select(func.count()).select_from(missing.subquery())) or 0


def _conversation(payload: dict) -> int | None:
    value = payload.get("conversation_id")
    return value if isinstance(value, int) else None


async def _seen(session: AsyncSession, ids: list[int]) -> set[int]:
    return set((await session.scalars(select(ReportSeenEvent.event_id).where(ReportSeenEvent.event_id.in_(ids)))).all())


async def _apply(session: AsyncSession, row: OutboxEvent, window: timedelta, *, mark_seen: bool) -> None:
    if mark_seen:
        statement = insert_ignoring_duplicates(ReportSeenEvent.__table__, session.bind.dialect.name, ["event_id"])
        await session.execute(statement.values(event_id=row.id))
    event = Event(id=row.id, topic=row.topic, payload=row.payload, created_at=row.created_at)
    await projection.APPLY[row.topic](session, event, window)
    await session.flush()


async def _finish(db: Database, run_id: int, window: timedelta) -> ReportRebuild:
    """Events recorded since the start (the live projection held them): applied once each, in
    batches; the last batch and the run's end share one transaction under the exclusive lock."""
    while True:
        async with db.transaction() as session:
            await projection.rebuild_lock(session)
            run = await session.get(ReportRebuild, run_id, with_for_update=True)
            assert run is not None
            rows = (await session.scalars(
                select(OutboxEvent).where(OutboxEvent.id > run.cursor, OutboxEvent.topic.in_(projection.TOPICS))
                .order_by(OutboxEvent.id).limit(BATCH)
            )).all()  # fmt: skip
            seen = await _seen(session, [r.id for r in rows]) if rows else set()
            for row in rows:
                if row.id not in seen:
                    await _apply(session, row, window, mark_seen=True)
                    run.events += 1
            if rows:
                run.cursor = rows[-1].id
            if len(rows) < BATCH:
                run.finished_at = utcnow()
                return run
