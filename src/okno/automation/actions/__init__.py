"""The explicit list of automation actions; third parties add theirs through the
``okno.automation_actions`` entry point (an ``AutomationAction`` subclass or instance).

``checked_action`` turns what an admin sent into the stored form, or refuses with the reason;
``published_models`` are the params models with their ``type``, the API's discriminated union.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel, create_model

from okno.automation.actions.add_note import AddNote
from okno.automation.actions.add_tags import AddTags
from okno.automation.actions.assign import Assign
from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.automation.actions.call_webhook import CallWebhook
from okno.automation.actions.escalate import Escalate
from okno.automation.actions.send_canned_answer import SendCannedAnswer
from okno.automation.actions.send_survey import SendSurvey
from okno.automation.actions.set_priority import SetPriority
from okno.automation.actions.set_status import SetStatus
from okno.kit.errors import Invalid
from okno.kit.reasons import explained

__all__ = ["ACTIONS", "ActionParams", "ActionRun", "AutomationAction", "Checking", "Names", "checked_action", "published_models"]

ENTRY_POINT_GROUP = "okno.automation_actions"

_BUILT_IN: tuple[AutomationAction, ...] = (
    SetPriority(), SetStatus(), AddTags(), Assign(), Escalate(), AddNote(), SendCannedAnswer(), CallWebhook(), SendSurvey(),
)


def _load() -> dict[str, AutomationAction]:
    actions = {action.type: action for action in _BUILT_IN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        loaded = ep.load()
        action = loaded() if isinstance(loaded, type) else loaded
        actions.setdefault(action.type, action)
    return actions


ACTIONS: dict[str, AutomationAction] = _load()


def action_of(kind: Any, *, where: str) -> AutomationAction:
    try:
        return ACTIONS[kind]
    except (KeyError, TypeError):
        raise Invalid("%(where)s.type must be one of: %(actions)s", where=where, actions=', '.join(ACTIONS)) from None


async def checked_action(raw: Any, checking: Checking) -> dict[str, Any]:
    """``{"type": ..., **params}`` as sent → as stored (ids checked, secrets sealed)."""
    action = action_of(raw.get("type") if isinstance(raw, dict) else None, where=checking.where)
    params = explained(action.params, {k: v for k, v in raw.items() if k != "type"}, where=checking.where)
    return await action.validate(params, checking)


@cache
def published_models() -> tuple[type[BaseModel], ...]:
    """One model per action, in ``ACTIONS`` order: its params and ``type`` (the discriminator),
    named after it (``AssignAction``)."""
    return tuple(_published(action) for action in ACTIONS.values())


def _published(action: AutomationAction) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in action.type.split("_")) + "Action"
    return create_model(name, __base__=action.params, __doc__=action.label.en, type=(Literal[action.type], ...))
