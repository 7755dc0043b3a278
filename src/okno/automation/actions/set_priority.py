"""``set_priority``: the conversation's priority (0 low … 3 urgent)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Names
from okno.conversations import lifecycle
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason
from okno.models import Priority


class SetPriorityParams(ActionParams):
    priority: Literal[0, 1, 2, 3] = labelled("Priority", "Приоритет", json_schema_extra={"x-options": "priorities"})

    @field_validator("priority", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if isinstance(value, bool) or value not in Priority._value2member_map_:
            raise reason("must be 0, 1, 2 or 3")
        return value


class SetPriority(AutomationAction):
    type = "set_priority"
    label = Label(en="Set priority", ru="Задать приоритет")
    params = SetPriorityParams

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await lifecycle.set_conversation_priority(run.session, conversation_id=run.conversation_id, priority=action["priority"], actor_id=None)

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return names.priority(action.get("priority"))
