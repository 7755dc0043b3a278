"""Runs durable jobs: leased, retried, taken over after a crash.

A worker leases due jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of worker
processes share the queue; SQLite's one writer serialises the lease) by marking them running
with ``locked_until`` a lease ahead and its own name in ``locked_by``. While a handler runs, a
heartbeat pushes the lease on and saves the progress the handler reported. A job whose lease ran
out while ``running`` (its worker crashed or was killed) is leased again by any worker: the
attempt counts, and the handler may resume from the progress saved before the crash.

A handler returns its result (a JSON object). An :class:`~okno.kit.errors.OknoError` (bad input,
e.g. too few profiles) fails the job at once; any other exception is retried with backoff until
``max_attempts``, then the job fails with that error. CPU-heavy steps go through
:meth:`JobRun.in_thread`, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy import and_, or_, select, update

from okno.jobs.queue import DONE, FAILED, QUEUED, RUNNING
from okno.kit.db import Database
from okno.kit.errors import OknoError
from okno.kit.time import utcnow
from okno.models import Job

log = structlog.get_logger()
T = TypeVar("T")


@dataclass
class JobRun:
    """What a handler gets: the job's payload, the database, and a way to report progress."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    db: Database
    progress: dict[str, Any] = field(default_factory=dict)  # as saved by an earlier attempt, then as reported
    _reported: bool = False

    def report(self, **progress: Any) -> None:
        """Saved with the next heartbeat (and when the job ends); cheap to call often."""
        self.progress = {**self.progress, **progress}
        self._reported = True

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Runs CPU-bound work in a thread so the event loop keeps serving."""
        return await asyncio.to_thread(fn, *args)


JobHandler = Callable[[JobRun], Awaitable[dict[str, Any]]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobWorker:
    def __init__(
        self,
        db: Database,
        handlers: dict[str, JobHandler],
        *,
        lease_seconds: float = 60.0,
        concurrency: int = 2,
        backoff_seconds: float = 5.0,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.lease = timedelta(seconds=lease_seconds)
        self.concurrency = concurrency
        self.backoff_seconds = backoff_seconds
        self.name = name or worker_name()

    async def drain_once(self) -> int:
        now = utcnow()
        async with self.db.reading() as session:  # the usual answer is "nothing due": no write lock for it
            due = await session.scalar(select(Job.id).where(self._due(now)).limit(1))
        if due is None:
            return 0
        runs = await self._lease(now)
        await asyncio.gather(*(self._run(run) for run in runs))
        return len(runs)

    def _due(self, now: datetime):
        return or_(
            and_(Job.status == QUEUED, Job.run_after <= now),
            and_(Job.status == RUNNING, Job.locked_until < now),  # its worker is gone: take it over
        )

    async def _lease(self, now: datetime) -> list[JobRun]:
        runs: list[JobRun] = []
        async with self.db.transaction() as session:
            jobs = (
                await session.scalars(
                    select(Job).where(self._due(now)).order_by(Job.run_after, Job.id).limit(self.concurrency).with_for_update(skip_locked=True)
                )
            ).all()
            for job in jobs:
                if job.status == RUNNING:
                    log.warning("job_taken_over", job_id=job.id, kind=job.kind, from_worker=job.locked_by)
                if job.status == RUNNING and job.attempts >= job.max_attempts:
                    job.status, job.finished_at, job.locked_until = FAILED, now, None
                    job.error = f"its worker ({job.locked_by}) stopped during the last of {job.attempts} attempts"
                    continue
                job.status, job.attempts, job.locked_until, job.locked_by = RUNNING, job.attempts + 1, now + self.lease, self.name
                job.started_at = job.started_at or now
                runs.append(
                    JobRun(
                        id=job.id, kind=job.kind, payload=dict(job.payload), attempt=job.attempts, max_attempts=job.max_attempts,
                        db=self.db, progress=dict(job.progress or {}),
                    )
                )
        return runs

    async def _run(self, run: JobRun) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(run), name=f"okno-job-{run.id}-heartbeat")
        try:
            handler = self.handlers.get(run.kind)
            if handler is None:
                raise OknoError("no handler for job kind %(kind)r", kind=run.kind)
            result = await handler(run)
        except Exception as exc:
            outcome: dict[str, Any] = self._failure(run, exc)
        else:
            outcome = {"status": DONE, "result": result, "error": None, "finished_at": utcnow()}
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        await self._settle(run, {**outcome, "progress": run.progress, "locked_until": None})

    def _failure(self, run: JobRun, exc: Exception) -> dict[str, Any]:
        permanent = isinstance(exc, OknoError)
        error = (exc.detail if isinstance(exc, OknoError) else f"{type(exc).__name__}: {exc}")[:4000]
        log.warning("job_failed", job_id=run.id, kind=run.kind, attempt=run.attempt, error=error, exc_info=not permanent)
        if permanent or run.attempt >= run.max_attempts:
            return {"status": FAILED, "error": error, "finished_at": utcnow()}
        delay = timedelta(seconds=self.backoff_seconds * 2 ** (run.attempt - 1))
        return {"status": QUEUED, "error": error, "run_after": utcnow() + delay}

    async def _heartbeat(self, run: JobRun) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            values: dict[str, Any] = {"locked_until": utcnow() + self.lease}
            if run._reported:
                values["progress"], run._reported = run.progress, False
            async with self.db.transaction() as session:
                await session.execute(update(Job).where(Job.id == run.id, Job.locked_by == self.name).values(**values))

    async def _settle(self, run: JobRun, values: dict[str, Any]) -> None:
        async with self.db.transaction() as session:
            # a worker that lost its lease (it stalled past it and another took over) writes nothing
            await session.execute(update(Job).where(Job.id == run.id, Job.locked_by == self.name, Job.status == RUNNING).values(**values))
