"""``add_tags``: tags added to the conversation (lower-cased; the ones it has stay)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Names
from okno.conversations import lifecycle
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason

MAX_TAG = 64


class AddTagsParams(ActionParams):
    tags: list[str] = labelled("Tags", "Теги", help_en="separated by commas", help_ru="через запятую", min_length=1)

    @field_validator("tags", mode="before")
    @classmethod
    def _words(cls, value: Any) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_TAG for t in value):
            raise reason("must be a list of 1–%(num)s character words", num=MAX_TAG)
        return [t.strip().lower() for t in value]


class AddTags(AutomationAction):
    type = "add_tags"
    label = Label(en="Add tags", ru="Добавить теги")
    params = AddTagsParams

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await lifecycle.tag_conversation(run.session, conversation_id=run.conversation_id, tags=action["tags"], actor_id=None)

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return ", ".join(action.get("tags") or [])
