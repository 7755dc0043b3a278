"""Retention: message bodies and raw inbound items older than a number of days are anonymised by
a durable job that runs once a day.

How long: ``OKNO_RETENTION_MESSAGE_DAYS`` (message text, HTML, subject, content, attachments and
the files okno stored for them, the text previews in the messages' timeline entries, the words in
widget streams, and the bodies of finished automation webhook calls) and
``OKNO_RETENTION_RAW_DAYS`` (``inbound_items.raw`` and ``item``); 0 keeps them for ever. A
channel's own ``retention_days`` (:func:`set_channel_retention`) replaces both for that
channel's messages and items. Messages stay as rows (direction, status, times, who wrote them),
so every report still counts them; ``redacted_at`` records when the body went.

When: :class:`RetentionPlanner` runs beside the other workers (``okno serve`` with embedded
workers and ``okno worker`` both start it). Every few minutes it makes sure a
``retention.sweep`` job is queued for today's ``OKNO_RETENTION_HOUR_UTC``; the job queue runs it
once (leased, retried, taken over after a crash). Planning is idempotent: a job for that time
that exists already (queued, running, done or failed) is never queued twice (PostgreSQL:
an advisory lock serialises the check across worker processes; SQLite: its one writer does).
The sweep itself is idempotent too: it only touches rows whose ``redacted_at`` is still empty,
in batches of one transaction each, so a sweep cut short resumes where it stopped.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.redaction import drop_stored_files, redact_messages, redact_raw_items, rewrite_json
from okno.jobs.queue import enqueue_job
from okno.jobs.worker import JobRun
from okno.kit.audit import audit
from okno.kit.blobs import BlobStore
from okno.kit.db import Database
from okno.kit.errors import NotFound
from okno.kit.time import utcnow
from okno.kit.pii import sealed_nonempty
from okno.models import Channel, InboundItem, Job, Message, TimelineEvent, VisitorEvent, WebhookCall

log = structlog.get_logger()

SWEEP = "retention.sweep"
BATCH = 500
PLAN_EVERY_SECONDS = 600.0
_ADVISORY_LOCK = 0x6F6B6E6F_7265  # "okno" "re": one planner at a time across PostgreSQL workers


# ---- settings -------------------------------------------------------------------------------


async def set_channel_retention(session: AsyncSession, channel_id: int, days: int | None, *, actor_id: int | None) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound("%(what)s %(id)s not found", what="channel", id=channel_id)
    previous, channel.retention_days = channel.retention_days, days
    await audit(session, actor_id=actor_id, action="channel.retention_changed", subject=("channel", channel_id), data={"from": previous, "to": days})
    await session.flush()
    return channel


async def channel_retention(session: AsyncSession) -> list[Channel]:
    return list((await session.scalars(select(Channel).order_by(Channel.id))).all())


# ---- planning -------------------------------------------------------------------------------


def planned_time(now: datetime, hour: int) -> datetime:
    """Today's run (UTC): queued ahead of time, it waits in the queue until then."""
    return datetime.combine(now.date(), time(hour), tzinfo=now.tzinfo)


class RetentionPlanner:
    """``drain_once`` makes sure today's sweep is queued (a :class:`~okno.kit.worker.LoopWorker`)."""

    def __init__(self, db: Database, *, message_days: int, raw_days: int, hour_utc: int, files_dir: Path | None = None) -> None:
        self.db, self.message_days, self.raw_days, self.hour_utc, self.files_dir = db, message_days, raw_days, hour_utc, files_dir

    async def drain_once(self) -> int:
        await self.plan(utcnow())
        return 0  # nothing more to do until the next poll

    async def plan(self, now: datetime) -> Job | None:
        """Queues the sweep for today's hour unless one exists; returns the job it queued."""
        at = planned_time(now, self.hour_utc)
        async with self.db.reading() as session:  # the usual answer is "already planned": no write lock for it
            if await _planned(session, at):
                return None
        async with self.db.transaction() as session:
            if session.bind.dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
            if await _planned(session, at):
                return None
            payload = {"message_days": self.message_days, "raw_days": self.raw_days, "planned_for": at.isoformat(),
                       "files_dir": str(self.files_dir) if self.files_dir else None}  # fmt: skip
            return await enqueue_job(session, SWEEP, payload, run_after=at, max_attempts=5)


async def _planned(session: AsyncSession, at: datetime) -> bool:
    return await session.scalar(select(Job.id).where(Job.kind == SWEEP, Job.run_after == at).limit(1)) is not None


# ---- the sweep ------------------------------------------------------------------------------


async def run_sweep(run: JobRun) -> dict[str, Any]:
    """The job: the periods and the file store (whose files of emptied messages it deletes)
    come in the payload, as the planning process was configured."""
    files_dir = run.payload.get("files_dir")
    blobs = BlobStore(Path(files_dir)) if files_dir else None
    return await sweep(run.db, blobs, message_days=int(run.payload.get("message_days", 0)),
                       raw_days=int(run.payload.get("raw_days", 0)), report=run.report)  # fmt: skip


async def sweep(db: Database, blobs: BlobStore | None, *, message_days: int, raw_days: int, now: datetime | None = None, report=None) -> dict[str, Any]:  # noqa: ANN001
    now = now or utcnow()
    async with db.reading() as session:
        channels = {c.id: c.retention_days for c in await channel_retention(session)}
    totals = {"messages": 0, "raw_items": 0, "files": 0, "timeline": 0, "visitor_events": 0, "webhook_calls": 0}
    for channel_id, own in [*channels.items(), (None, None)]:
        days = message_days if own is None else own
        if days > 0:
            await _sweep_messages(db, blobs, channel_id, now - timedelta(days=days), totals)
            if channel_id is not None:
                await _sweep_visitor_streams(db, channel_id, now - timedelta(days=days), totals)
        days = raw_days if own is None else own
        if days > 0 and channel_id is not None:
            await _sweep_raw_items(db, channel_id, now - timedelta(days=days), totals)
        if report is not None:
            report(last_channel_id=channel_id, **totals)
    if message_days > 0:
        await _sweep_webhook_bodies(db, now - timedelta(days=message_days), totals)
    log.info("retention_swept", **totals)
    return totals


async def _sweep_messages(db: Database, blobs: BlobStore | None, channel_id: int | None, cutoff: datetime, totals: dict[str, int]) -> None:
    # ``+ 0``: walk the primary key from ``after`` (SQLite would otherwise pick the (channel,
    # provider id) index and sort the whole channel for every batch)
    channel = Message.channel_id.is_(None) if channel_id is None else (Message.channel_id + 0) == channel_id
    after = 0
    while True:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(Message.id, Message.customer_id)
                    .where(channel, Message.id > after, Message.created_at < cutoff, Message.redacted_at.is_(None))
                    .order_by(Message.id)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                return
            ids, customers = [r[0] for r in rows], sorted({r[1] for r in rows})
            keys, files = await drop_stored_files(session, Message.id.in_(ids))
            await session.execute(redact_messages(Message.id.in_(ids), utcnow()))
            entries = (  # through the customers' timeline index: message_id has none
                await session.execute(
                    select(TimelineEvent.id, TimelineEvent.data).where(TimelineEvent.customer_id.in_(customers), TimelineEvent.message_id.in_(ids))
                )
            ).all()
            totals["timeline"] += await rewrite_json(session, TimelineEvent.__table__, "data", entries)
        for key in keys if blobs is not None else ():
            blobs.delete(key)  # type: ignore[union-attr]
        totals["messages"] += len(ids)
        totals["files"] += files
        after = ids[-1]


async def _sweep_raw_items(db: Database, channel_id: int, cutoff: datetime, totals: dict[str, int]) -> None:
    after = 0
    while True:
        async with db.transaction() as session:
            ids = list(
                await session.scalars(
                    select(InboundItem.id)
                    .where((InboundItem.channel_id + 0) == channel_id, InboundItem.id > after, InboundItem.received_at < cutoff,
                           InboundItem.redacted_at.is_(None), InboundItem.status.in_(("done", "failed")))  # fmt: skip
                    .order_by(InboundItem.id)
                    .limit(BATCH)
                )
            )
            if not ids:
                return
            await session.execute(redact_raw_items(InboundItem.id.in_(ids), utcnow()))
        totals["raw_items"] += len(ids)
        after = ids[-1]


async def _sweep_visitor_streams(db: Database, channel_id: int, cutoff: datetime, totals: dict[str, int]) -> None:
    """The words in a widget channel's old stream events (what visitors and operators wrote);
    rows and numbers stay. Scrubbed rows are read again on later days but not written."""
    after = 0
    while True:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(VisitorEvent.id, VisitorEvent.payload)
                    .where((VisitorEvent.channel_id + 0) == channel_id, VisitorEvent.id > after, VisitorEvent.created_at < cutoff)
                    .order_by(VisitorEvent.id)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                return
            totals["visitor_events"] += await rewrite_json(session, VisitorEvent.__table__, "payload", rows)
        after = rows[-1][0]


async def _sweep_webhook_bodies(db: Database, cutoff: datetime, totals: dict[str, int]) -> None:
    """Automation webhook calls carry the conversation's data: finished ones lose their body."""
    async with db.transaction() as session:
        result = await session.execute(
            update(WebhookCall)
            .where(WebhookCall.created_at < cutoff, WebhookCall.status.in_(("done", "failed")), sealed_nonempty(WebhookCall.body))
            .values(body="")
        )
    totals["webhook_calls"] += result.rowcount
