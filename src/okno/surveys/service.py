"""Creating, changing and listing surveys (admins); what a survey may say is checked here so the
API and the admin page refuse the same things with the same reasons."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Invalid, NotFound
from okno.models import Channel, Team
from okno.kit.removal import Use, refuse_if_used
from okno.models.surveys import Survey, SurveyKind, SurveyRequest
from okno.surveys.gate import surveys_defined

LANGUAGES = ("ru", "en")
TRIGGERS = ("resolved",)
MAX_TEXT = 1000
MAX_DELAY_MINUTES = 7 * 24 * 60
FIELDS = ("kind", "name", "trigger", "delay_minutes", "team_ids", "channel_ids", "question", "follow_up", "is_active")


async def list_surveys(session: AsyncSession) -> list[Survey]:
    return list((await session.scalars(select(Survey).order_by(Survey.id))).all())


async def get_survey(session: AsyncSession, survey_id: int) -> Survey:
    survey = await session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("%(what)s %(id)s not found", what="survey", id=survey_id)
    return survey


async def create_survey(session: AsyncSession, *, fields: dict[str, Any], actor_id: int | None) -> Survey:
    missing = [name for name in ("kind", "name", "question") if fields.get(name) in (None, "", {})]
    if missing:
        raise Invalid("%(missing)s required", missing=', '.join(missing))
    survey = Survey(kind="", name="", trigger="resolved", delay_minutes=0, team_ids=[], channel_ids=[], question={}, follow_up=None, is_active=True)
    await _apply(session, survey, fields)
    session.add(survey)
    await session.flush()
    await audit(session, actor_id=actor_id, action="survey.created", subject=("survey", str(survey.id)), data={"kind": survey.kind, "name": survey.name})
    surveys_defined.put(session)
    return survey


async def change_survey(session: AsyncSession, survey_id: int, *, fields: dict[str, Any], actor_id: int | None) -> Survey:
    survey = await get_survey(session, survey_id)
    if "kind" in fields and fields["kind"] != survey.kind:
        raise Invalid("kind can't change: its scale would no longer match the answers already given (create another survey)")
    await _apply(session, survey, fields)
    await session.flush()
    await audit(session, actor_id=actor_id, action="survey.changed", subject=("survey", str(survey.id)), data={"fields": sorted(fields)})
    return survey


async def delete_survey(session: AsyncSession, survey_id: int, *, actor_id: int | None) -> None:
    """Deletes a survey nothing was planned or sent by; one with requests (their scores feed the
    reports) is switched off instead (``is_active``)."""
    survey = await get_survey(session, survey_id)
    await refuse_if_used(session, [
        Use(select(SurveyRequest.id).where(SurveyRequest.survey_id == survey.id),
            f"survey {survey.id} was already planned or sent to customers; switch it off instead",
            f"Опрос «{survey.name}» уже отправлялся клиентам; выключите его вместо удаления"),
    ])  # fmt: skip
    await audit(session, actor_id=actor_id, action="survey.deleted", subject=("survey", str(survey.id)), data={"kind": survey.kind, "name": survey.name})
    await session.delete(survey)
    await session.flush()


async def _apply(session: AsyncSession, survey: Survey, fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise Invalid("unknown fields: %(unknown)s", unknown=', '.join(unknown))
    if "kind" in fields:
        if fields["kind"] not in SurveyKind._value2member_map_:
            raise Invalid("kind must be one of: %(choices)s", choices=', '.join(k.value for k in SurveyKind))
        survey.kind = fields["kind"]
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name or len(name) > 200:
            raise Invalid("name must be 1 to 200 characters")
        survey.name = name
    if "trigger" in fields:
        if fields["trigger"] not in TRIGGERS:
            raise Invalid("trigger must be one of: %(triggers)s (other triggers: the automation action send_survey)", triggers=', '.join(TRIGGERS))
        survey.trigger = fields["trigger"]
    if "delay_minutes" in fields:
        delay = fields["delay_minutes"]
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MINUTES:
            raise Invalid("delay_minutes must be a whole number from 0 to %(max_delay_minutes)s", max_delay_minutes=MAX_DELAY_MINUTES)
        survey.delay_minutes = delay
    if "team_ids" in fields:
        survey.team_ids = await _existing(session, Team, fields["team_ids"], "team_ids", "team")
    if "channel_ids" in fields:
        survey.channel_ids = await _existing(session, Channel, fields["channel_ids"], "channel_ids", "channel")
    if "question" in fields:
        question = _texts(fields["question"], "question")
        if question is None:
            raise Invalid("question needs a text in at least one language (ru, en)")
        survey.question = question
    if "follow_up" in fields:
        survey.follow_up = _texts(fields["follow_up"], "follow_up")
    if "is_active" in fields:
        if not isinstance(fields["is_active"], bool):
            raise Invalid("is_active must be true or false")
        survey.is_active = fields["is_active"]


def _texts(value: Any, name: str) -> dict[str, str] | None:
    """``{"ru": ..., "en": ...}`` with blank texts left out; None when none is given."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid('%(name)s must be an object with texts per language: {"ru": ..., "en": ...}', name=name)
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise Invalid("%(name)s: unknown languages %(unknown)s (ru, en)", name=name, unknown=', '.join(unknown))
    texts: dict[str, str] = {}
    for language, text in value.items():
        if text is None:
            continue
        if not isinstance(text, str):
            raise Invalid("%(name)s.%(language)s must be text", name=name, language=language)
        if len(text) > MAX_TEXT:
            raise Invalid("%(name)s.%(language)s is longer than %(num)s character", plural="%(name)s.%(language)s is longer than %(num)s characters", name=name, language=language, num=MAX_TEXT)
        if text.strip():
            texts[language] = text.strip()
    return texts or None


async def _existing(session: AsyncSession, model: Any, ids: Any, name: str, what: str) -> list[int]:
    if ids is None:
        return []
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise Invalid("%(name)s must be a list of %(what)s ids", name=name, what=what)
    wanted = sorted(set(ids))
    if len(wanted) > 500:
        raise Invalid("%(name)s: at most 500 ids", name=name)
    found = set((await session.scalars(select(model.id).where(model.id.in_(wanted)))).all()) if wanted else set()
    if absent := [i for i in wanted if i not in found]:
        raise Invalid("%(name)s: %(what)s %(absent)s does not exist", name=name, what=what, absent=', '.join(map(str, absent)))
    return wanted
