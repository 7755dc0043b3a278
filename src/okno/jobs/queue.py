"""Recording a job in the caller's transaction (it runs once that commits) and reading it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.db_wake import request_wake
from okno.kit.errors import NotFound
from okno.kit.time import utcnow
from okno.models import Job

WORKER = "jobs"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


async def enqueue_job(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    created_by: int | None = None,
    max_attempts: int = 3,
    run_after: datetime | None = None,
) -> Job:
    """Flushes (the caller gets the id to hand out); a rollback drops the job with the rest."""
    job = Job(
        kind=kind, payload=payload, status=QUEUED, attempts=0, max_attempts=max_attempts, run_after=run_after or utcnow(),
        progress={}, created_by=created_by, created_at=utcnow(),
    )  # fmt: skip
    session.add(job)
    await session.flush()
    request_wake(session, WORKER)
    return job


async def get_job(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("%(what)s %(id)s not found", what="job", id=job_id)
    return job
