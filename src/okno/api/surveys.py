"""Surveys: admins create and change them; supervisors and admins read them (docs/access.md).
A survey names no conversation or customer, so there is no team scoping to apply."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from okno.api.deps import AdminOperator, ManagerOperator, ReadSession, WriteSession
from okno.surveys import service

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ru: str | None = Field(default=None, max_length=service.MAX_TEXT)
    en: str | None = Field(default=None, max_length=service.MAX_TEXT)


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["csat", "nps", "ces"] = Field(description="csat: 1–5, nps: 0–10, ces: 1–7")
    name: str = Field(min_length=1, max_length=200)
    trigger: Literal["resolved"] = "resolved"
    delay_minutes: int = Field(default=0, ge=0, le=service.MAX_DELAY_MINUTES)
    team_ids: list[int] = Field(default_factory=list, description="empty: every team")
    channel_ids: list[int] = Field(default_factory=list, description="empty: every channel")
    question: Texts
    follow_up: Texts | None = Field(default=None, description="asked after the score; the next message is stored as the comment")
    is_active: bool = True


class SurveyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["csat", "nps", "ces"] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: Literal["resolved"] | None = None
    delay_minutes: int | None = Field(default=None, ge=0, le=service.MAX_DELAY_MINUTES)
    team_ids: list[int] | None = None
    channel_ids: list[int] | None = None
    question: Texts | None = None
    follow_up: Texts | None = None
    is_active: bool | None = None


class SurveyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    trigger: str
    delay_minutes: int
    team_ids: list[int]
    channel_ids: list[int]
    question: dict[str, str]
    follow_up: dict[str, str] | None
    is_active: bool
    scale: list[int] = Field(min_length=2, max_length=2, description="the lowest and the highest score")
    created_at: datetime
    updated_at: datetime


def _out(survey: Any) -> SurveyOut:
    from okno.models.surveys import SCALES

    return SurveyOut.model_validate({**{k: getattr(survey, k) for k in SurveyOut.model_fields if k != "scale"}, "scale": list(SCALES[survey.kind])})


@router.get("")
async def list_surveys(_: ManagerOperator, session: ReadSession) -> dict:
    return {"items": [_out(s) for s in await service.list_surveys(session)]}


@router.post("", response_model=SurveyOut, status_code=201)
async def create_survey(body: SurveyIn, admin: AdminOperator, session: WriteSession) -> SurveyOut:
    fields = body.model_dump()
    fields["question"] = body.question.model_dump()
    return _out(await service.create_survey(session, fields=fields, actor_id=admin.id))


@router.get("/{survey_id}", response_model=SurveyOut)
async def get_survey(survey_id: int, _: ManagerOperator, session: ReadSession) -> SurveyOut:
    return _out(await service.get_survey(session, survey_id))


@router.delete("/{survey_id}", status_code=204, summary="Delete a survey nothing was sent by (else 409: switch it off)")
async def delete_survey(survey_id: int, admin: AdminOperator, session: WriteSession) -> Response:
    await service.delete_survey(session, survey_id, actor_id=admin.id)
    return Response(status_code=204)


@router.patch("/{survey_id}", response_model=SurveyOut)
async def change_survey(survey_id: int, body: SurveyPatch, admin: AdminOperator, session: WriteSession) -> SurveyOut:
    fields = body.model_dump(exclude_unset=True)
    for name in ("kind", "name", "trigger", "delay_minutes", "question", "is_active"):
        if name in fields and fields[name] is None:
            fields.pop(name)  # null for a required field: left as it is
    return _out(await service.change_survey(session, survey_id, fields=fields, actor_id=admin.id))
