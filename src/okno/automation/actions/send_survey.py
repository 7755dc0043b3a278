"""``send_survey``: the conversation's survey, planned now (after the survey's delay) whatever
its status — for triggers other than "resolved" (a tag, a closing, an SLA breach…). The same
rules as the resolved trigger apply when it goes out (one per conversation, the quiet window,
not after an erase, only where the customer can be reached: docs/surveys.md)."""

from __future__ import annotations

from typing import Any

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.kit.labels import Label, labelled
from okno.models.surveys import Survey
from okno.surveys.dispatch import schedule_survey


class SendSurveyParams(ActionParams):
    survey_id: int = labelled("Survey", "Опрос", strict=True)


class SendSurvey(AutomationAction):
    type = "send_survey"
    label = Label(en="Send a survey", ru="Отправить опрос")
    params = SendSurveyParams

    async def validate(self, params: SendSurveyParams, checking: Checking) -> dict[str, Any]:
        if await checking.session.get(Survey, params.survey_id) is None:
            raise checking.refuse("survey %(id)s does not exist", at="survey_id", id=params.survey_id)
        return await super().validate(params, checking)

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        survey = await run.session.get(Survey, action["survey_id"])
        if survey is not None and survey.is_active:
            await schedule_survey(run.session, run.conversation_id, [survey], origin="automation")

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return f"#{action.get('survey_id')}"
