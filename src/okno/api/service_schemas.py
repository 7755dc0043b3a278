"""Request and response bodies of the service-process API: SLA, calendars, teams, routing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from okno.api.published import PublishedAs
from okno.automation.actions import published_models as published_actions
from okno.channels.service import MASK
from okno.routing.conditions import published_models as published_conditions
from okno.routing.rules import RoutingActions

# one model per registered action, told apart by ``type``; one per condition field
AutomationAction = Annotated[Union[tuple(published_actions())], Field(discriminator="type")]  # noqa: UP007 - built from the registry
RuleCondition = Union[tuple(published_conditions())]  # noqa: UP007
Conditions = Annotated[Any, PublishedAs(list[RuleCondition])]  # [{"field", "op", "value"}]: all must hold
AutomationActions = Annotated[Any, PublishedAs(list[AutomationAction])]
RoutingActionsField = Annotated[Any, PublishedAs(RoutingActions)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SlaPolicyIn(BaseModel):
    name: str = Field(max_length=200)
    # {"urgent": {"first_response": 15, "next_response": 30, "resolution": 240}, …}: business minutes
    targets: dict[str, dict[str, Any]]
    warning_minutes: int = 0
    is_default: bool = False


class SlaPolicyPatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    targets: dict[str, dict[str, Any]] | None = None
    warning_minutes: int | None = None
    is_default: bool | None = None
    is_active: bool | None = None  # false: disabled (it governs nothing new; history keeps it)


class SlaPolicyOut(_Out):
    id: int
    name: str
    targets: dict[str, dict[str, int]]
    warning_minutes: int
    is_default: bool
    is_active: bool


class CalendarIn(BaseModel):
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    weekly: dict[str, Any]  # {"mon": [["09:00", "18:00"]], …}
    holidays: list[Any] = Field(default_factory=list)


class CalendarPatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    weekly: dict[str, Any] | None = None
    holidays: list[Any] | None = None


class CalendarOut(_Out):
    id: int
    name: str
    timezone: str
    weekly: dict[str, list[list[str]]]
    holidays: list[str]


class TeamConfigIn(BaseModel):
    """Only the fields sent change; null clears a reference."""

    name: str | None = Field(default=None, max_length=200)
    assignment_strategy: str | None = None
    sticky: bool | None = None
    calendar_id: int | None = None
    sla_policy_id: int | None = None
    escalation_team_id: int | None = None
    signature: str | None = Field(default=None, max_length=2000, description="appended to the team's e-mails; empty clears it")


class TeamMemberIn(BaseModel):
    operator_id: int


class SlaTargetOut(_Out):
    id: int
    metric: str
    cycle: int
    policy_id: int | None
    target_seconds: int
    state: str
    started_at: datetime
    due_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    completed_at: datetime | None
    business_seconds: int | None
    wall_seconds: int | None


class RoutingRuleIn(BaseModel):
    name: str = Field(max_length=200)
    conditions: Conditions = Field(default_factory=list)
    actions: RoutingActionsField
    events: list[str] = Field(default_factory=lambda: ["conversation.opened"])
    enabled: bool = True
    stop: bool = True
    position: int | None = None


class RoutingRulePatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    conditions: Conditions | None = None
    actions: RoutingActionsField | None = None
    events: list[str] | None = None
    enabled: bool | None = None
    stop: bool | None = None
    position: int | None = None


class RoutingRuleOut(_Out):
    id: int
    name: str
    position: int
    enabled: bool
    events: list[str]
    conditions: Conditions
    actions: RoutingActionsField
    stop: bool


class CannedAnswerIn(BaseModel):
    team_id: int | None = None  # None: for every team
    shortcut: str = Field(max_length=65)
    language: str
    title: str = Field(max_length=200)
    body: str = Field(max_length=10_000)


class CannedAnswerPatch(BaseModel):
    team_id: int | None = None
    shortcut: str | None = Field(default=None, max_length=65)
    language: str | None = None
    title: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, max_length=10_000)


class CannedAnswerOut(_Out):
    id: int
    team_id: int | None
    shortcut: str
    language: str
    title: str
    body: str


class RenderIn(BaseModel):
    conversation_id: int


class AutomationRuleIn(BaseModel):
    name: str = Field(max_length=200)
    event: str
    conditions: Conditions = Field(default_factory=list)
    actions: AutomationActions
    enabled: bool = True
    position: int | None = None


class AutomationRulePatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    event: str | None = None
    conditions: Conditions | None = None
    actions: AutomationActions | None = None
    enabled: bool | None = None
    position: int | None = None


class AutomationRuleOut(_Out):
    id: int
    name: str
    event: str
    conditions: Conditions
    actions: AutomationActions
    enabled: bool
    position: int

    @field_validator("actions")
    @classmethod
    def _mask_secrets(cls, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A webhook's sealed secret is shown as the mask (send the mask back to keep it)."""
        return [
            {**{k: v for k, v in a.items() if k != "secret_sealed"}, "secret": MASK} if "secret_sealed" in a else a for a in actions
        ]


class AutomationActionKindOut(BaseModel):
    """An action the admin can add to a rule: its name and the JSON Schema of its params."""

    type: str
    label: dict[str, str]  # {"en": ..., "ru": ...}
    params_schema: dict[str, Any]


class ConditionFieldOut(BaseModel):
    """A field rule conditions can test; ``field`` ending in a dot takes an attribute after it."""

    field: str
    label: dict[str, str]
    ops: list[str]
    widget: str  # how a form asks for the value: text, number, weekdays, time_range
    extras: list[str]  # keys beside value: timezone, window_days
    condition_schema: dict[str, Any]
