"""``assign``: to an operator, to a team, or both."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.conversations import lifecycle
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason
from okno.models import Operator, Team


class AssignParams(ActionParams):
    operator_id: int | None = labelled("Operator", "Оператор", default=None, strict=True, json_schema_extra={"x-options": "operators"})
    team_id: int | None = labelled("Team", "Группа", default=None, strict=True, json_schema_extra={"x-options": "teams"})

    @model_validator(mode="after")
    def _someone(self) -> AssignParams:
        if self.operator_id is None and self.team_id is None:
            raise reason("needs operator_id, team_id or both")
        return self


class Assign(AutomationAction):
    type = "assign"
    label = Label(en="Assign", ru="Назначить")
    params = AssignParams

    async def validate(self, params: AssignParams, checking: Checking) -> dict[str, Any]:
        for key, model, missing in (("operator_id", Operator, "operator %(id)s does not exist"), ("team_id", Team, "team %(id)s does not exist")):
            value = getattr(params, key)
            if value is not None and await checking.session.get(model, value) is None:
                raise checking.refuse(missing, at=key, id=value)
        return await super().validate(params, checking)

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await lifecycle.assign_conversation(
            run.session, conversation_id=run.conversation_id, operator_id=action.get("operator_id"), team_id=action.get("team_id"),
            change_team="team_id" in action, comment=None, actor_id=None,
        )

    def describe(self, action: dict[str, Any], names: Names) -> str:
        whom = [names.operator(action["operator_id"])] if action.get("operator_id") is not None else []
        whom += [names.team(action["team_id"])] if action.get("team_id") is not None else []
        return ", ".join(whom)
