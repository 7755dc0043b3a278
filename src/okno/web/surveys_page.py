"""The surveys page (``/admin/surveys``): supervisors and admins see the surveys and how many
went out and were answered; admins create and change them (through ``/api/v1/surveys``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from okno.api.deps import ReadSession
from okno.models import Channel, Team
from okno.models.surveys import SCALES, RequestState, SurveyRequest
from okno.surveys.service import list_surveys
from okno.web.admin_pages import admin_nav
from okno.web.pages import N_, ManagerPage, render, translator_for

router = APIRouter(include_in_schema=False)

KIND_LABELS = {"csat": N_("CSAT: satisfaction, 1–5"), "nps": N_("NPS: would recommend, 0–10"), "ces": N_("CES: effort, 1–7")}


@router.get("/admin/surveys")
async def surveys_page(request: Request, operator: ManagerPage, session: ReadSession) -> Response:
    surveys = await list_surveys(session)
    counts: dict[int, dict[str, int | float | None]] = {}
    rows = await session.execute(
        select(SurveyRequest.survey_id, func.count(SurveyRequest.sent_at), func.count(SurveyRequest.score), func.avg(SurveyRequest.score))
        .where(SurveyRequest.state != RequestState.skipped.value)
        .group_by(SurveyRequest.survey_id)
    )
    for survey_id, sent, answered, average in rows:
        counts[survey_id] = {"sent": sent, "answered": answered, "average": round(float(average), 2) if average is not None else None}
    teams = (await session.execute(select(Team.id, Team.name).order_by(Team.name))).all()
    channels = (await session.execute(select(Channel.id, Channel.name, Channel.kind).order_by(Channel.name))).all()
    t = translator_for(request, operator)
    return render(
        request, "surveys.html", operator, **admin_nav(t, operator, "surveys"), surveys=surveys, counts=counts, teams=teams, channels=channels, scales=SCALES,
        team_names={tid: name for tid, name in teams}, channel_names={cid: name for cid, name, _ in channels},
        kind_labels={key: t.gettext(text) for key, text in KIND_LABELS.items()},
        surveys_json=[
            {"id": s.id, "kind": s.kind, "name": s.name, "delay_minutes": s.delay_minutes, "team_ids": s.team_ids, "channel_ids": s.channel_ids,
             "question": s.question, "follow_up": s.follow_up, "is_active": s.is_active}
            for s in surveys
        ],
    )  # fmt: skip
