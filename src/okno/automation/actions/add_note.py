"""``add_note``: an internal note in the conversation, written by the rule."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Names
from okno.conversations.replies import post_operator_message
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason

MAX_TEXT = 2000


class AddNoteParams(ActionParams):
    explain_missing = ("text",)

    text: str = labelled("Text", "Текст", json_schema_extra={"x-widget": "textarea"})

    @field_validator("text", mode="before")
    @classmethod
    def _sized(cls, value: Any) -> str:
        text = str(value or "").strip()
        if not 1 <= len(text) <= MAX_TEXT:
            raise reason("must be 1–%(num)s characters", num=MAX_TEXT)
        return text


class AddNote(AutomationAction):
    type = "add_note"
    label = Label(en="Add an internal note", ru="Добавить внутреннюю заметку")
    params = AddNoteParams

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await post_operator_message(run.session, conversation_id=run.conversation_id, author_id=None, text=action["text"], internal=True)  # type: ignore[arg-type]

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return str(action.get("text", ""))
