"""``set_status``: a status of the catalogue, with a closing reason where one is wanted."""

from __future__ import annotations

from typing import Any

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.conversations import lifecycle
from okno.conversations.catalog import status_definition, usable_reason
from okno.kit.errors import Invalid
from okno.kit.labels import Label, labelled


class SetStatusParams(ActionParams):
    status: str = labelled("Status", "Статус", min_length=1, max_length=32, json_schema_extra={"x-options": "statuses"})
    reason: str | None = labelled("Closing reason", "Причина закрытия", default=None, max_length=64, json_schema_extra={"x-options": "reasons"})


class SetStatus(AutomationAction):
    type = "set_status"
    label = Label(en="Set status", ru="Задать статус")
    params = SetStatusParams

    async def validate(self, params: SetStatusParams, checking: Checking) -> dict[str, Any]:
        try:
            await status_definition(checking.session, params.status)
            if params.reason is not None:
                await usable_reason(checking.session, params.reason)
        except Invalid as exc:
            raise checking.refuse(exc.template, **exc.params) from None
        return {"type": self.type, "status": params.status, "reason": params.reason}

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await lifecycle.change_conversation_status(
            run.session, conversation_id=run.conversation_id, status=action["status"], reason=action.get("reason"), comment=None,
            actor_id=None, reason_required=run.reason_required,
        )

    def describe(self, action: dict[str, Any], names: Names) -> str:
        reason = action.get("reason")
        return names.status(action.get("status")) + (f" ({names.reason(reason)})" if reason else "")
