"""Following a durable job: its state, progress, result or error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from okno.api.deps import CurrentOperator, ReadSession
from okno.jobs.queue import get_job
from okno.kit.errors import NotFound
from okno.models import Job, Role

router = APIRouter(tags=["jobs"])


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str  # queued | running | done | failed
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job)


@router.get("/api/v1/jobs/{job_id}", response_model=JobOut)
async def job(job_id: int, operator: CurrentOperator, session: ReadSession) -> JobOut:
    """An admin sees every job; anyone else the jobs they started."""
    found = await get_job(session, job_id)
    if operator.role != Role.admin.value and found.created_by != operator.id:
        raise NotFound("%(what)s %(id)s not found", what="job", id=job_id)
    return JobOut.of(found)
