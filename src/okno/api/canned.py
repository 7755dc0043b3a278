"""Canned answers (read: operators, scoped to their teams; change: admins and supervisors)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.access.guards import access_canned_answer, access_conversation
from okno.api.access import OperatorScope
from okno.api.deps import CurrentOperator, ManagerOperator, ReadSession, WriteSession
from okno.api.service_schemas import CannedAnswerIn, CannedAnswerOut, CannedAnswerPatch, RenderIn
from okno.knowledge import canned

router = APIRouter(prefix="/api/v1/canned-answers", tags=["canned answers"])


@router.get("")
async def list_answers(
    operator: CurrentOperator, session: ReadSession, language: str | None = None, q: str | None = None, team_id: int | None = None
) -> dict:
    rows = await canned.answers_for(session, operator, language=language, query=q, team_id=team_id)
    return {"items": [CannedAnswerOut.model_validate(a) for a in rows]}


@router.post("", response_model=CannedAnswerOut, status_code=201)
async def add_answer(body: CannedAnswerIn, manager: ManagerOperator, session: WriteSession) -> CannedAnswerOut:
    return CannedAnswerOut.model_validate(await canned.add_answer(session, fields=body.model_dump(), actor_id=manager.id))


@router.patch("/{answer_id}", response_model=CannedAnswerOut)
async def change_answer(
    answer_id: int, body: CannedAnswerPatch, manager: ManagerOperator, scope: OperatorScope, session: WriteSession
) -> CannedAnswerOut:
    await access_canned_answer(session, scope, answer_id)
    answer = await canned.change_answer(session, answer_id, fields=body.model_dump(exclude_unset=True), actor_id=manager.id)
    return CannedAnswerOut.model_validate(answer)


@router.delete("/{answer_id}", status_code=204)
async def remove_answer(answer_id: int, manager: ManagerOperator, scope: OperatorScope, session: WriteSession) -> Response:
    await access_canned_answer(session, scope, answer_id)
    await canned.remove_answer(session, answer_id, actor_id=manager.id)
    return Response(status_code=204)


@router.post("/{answer_id}/render")
async def render(answer_id: int, body: RenderIn, operator: CurrentOperator, scope: OperatorScope, session: ReadSession) -> dict:
    """The answer filled in for a conversation: ``{"text", "missing", "language"}``. Both must be
    visible to the operator (``okno.access``)."""
    await access_canned_answer(session, scope, answer_id)
    await access_conversation(session, scope, body.conversation_id)
    return await canned.render_answer(session, answer_id, conversation_id=body.conversation_id, operator=operator)
