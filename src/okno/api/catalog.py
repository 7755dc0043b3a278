"""The shared lists of conversation statuses and closing reasons (read: anyone; change: admins)."""

from __future__ import annotations

from fastapi import APIRouter

from okno.api.deps import AdminOperator, CurrentOperator, ReadSession, WriteSession
from okno.api.schemas import ReasonIn, ReasonOut, ReasonPatch, StatusIn, StatusOut, StatusPatch
from okno.conversations import catalog

router = APIRouter(prefix="/api/v1", tags=["statuses and reasons"])


@router.get("/statuses")
async def list_statuses(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [StatusOut.model_validate(s) for s in await catalog.list_statuses(session)]}


@router.post("/statuses", response_model=StatusOut, status_code=201)
async def add_status(body: StatusIn, admin: AdminOperator, session: WriteSession) -> StatusOut:
    status = await catalog.add_status(
        session, key=body.key, type=body.type, label=body.label, position=body.position, actor_id=admin.id
    )
    return StatusOut.model_validate(status)


@router.patch("/statuses/{key}", response_model=StatusOut)
async def change_status(key: str, body: StatusPatch, admin: AdminOperator, session: WriteSession) -> StatusOut:
    status = await catalog.change_status_definition(
        session, key, type=body.type, label=body.label, position=body.position, actor_id=admin.id
    )
    return StatusOut.model_validate(status)


@router.get("/reasons")
async def list_reasons(_: CurrentOperator, session: ReadSession) -> dict:
    return {"items": [ReasonOut.model_validate(r) for r in await catalog.list_reasons(session)]}


@router.post("/reasons", response_model=ReasonOut, status_code=201)
async def add_reason(body: ReasonIn, admin: AdminOperator, session: WriteSession) -> ReasonOut:
    reason = await catalog.add_reason(
        session, key=body.key, label=body.label, active=body.active, position=body.position, actor_id=admin.id
    )
    return ReasonOut.model_validate(reason)


@router.patch("/reasons/{key}", response_model=ReasonOut)
async def change_reason(key: str, body: ReasonPatch, admin: AdminOperator, session: WriteSession) -> ReasonOut:
    reason = await catalog.change_reason(
        session, key, label=body.label, active=body.active, position=body.position, actor_id=admin.id
    )
    return ReasonOut.model_validate(reason)
