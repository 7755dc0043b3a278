"""``escalate``: to the action's team, or else one step up the conversation's escalation path
(e.g. on ``sla.warning``, on keywords, on a customer's Nth contact about one reason). A rule
escalates a conversation once: a keyword in every message does not climb every tier."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator
from sqlalchemy import select

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.conversations import lifecycle
from okno.kit.errors import Invalid
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason
from okno.models import Team, TimelineEvent
from okno.routing.escalation import escalation_team_of

MAX_COMMENT = 2000
UP_THE_PATH = Label(en="up the team's escalation path", ru="выше по пути эскалации группы")


class EscalateParams(ActionParams):
    explain_missing = ("comment",)

    comment: str = labelled("Comment", "Комментарий", help_en="why", help_ru="почему", json_schema_extra={"x-widget": "textarea"})
    team_id: int | None = labelled(
        "Team", "Группа", default=None, strict=True, help_en="empty: up the team's escalation path",
        help_ru="пусто: выше по пути эскалации группы", json_schema_extra={"x-options": "teams"},
    )

    @field_validator("comment", mode="before")
    @classmethod
    def _why(cls, value: Any) -> str:
        comment = str(value or "").strip()
        if not 1 <= len(comment) <= MAX_COMMENT:
            raise reason("must say why (1–%(num)s characters)", num=MAX_COMMENT)
        return comment


class Escalate(AutomationAction):
    type = "escalate"
    label = Label(en="Escalate", ru="Эскалировать")
    params = EscalateParams

    async def validate(self, params: EscalateParams, checking: Checking) -> dict[str, Any]:
        if params.team_id is not None and await checking.session.get(Team, params.team_id) is None:
            raise checking.refuse("team %(id)s does not exist (leave it out to follow the team's escalation path)", at="team_id", id=params.team_id)
        return await super().validate(params, checking)

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        session = run.session
        conversation = await lifecycle.conversation_for_update(session, run.conversation_id)
        earlier = await session.scalars(
            select(TimelineEvent.data).where(
                TimelineEvent.customer_id == conversation.customer_id,
                TimelineEvent.conversation_id == conversation.id,
                TimelineEvent.kind == "conversation.escalated",
            )
        )
        if any(data.get("via") == run.via for data in earlier):
            return
        team_id = action.get("team_id") or await escalation_team_of(session, conversation)
        if team_id is None:
            where = f"team {conversation.team_id} has no escalation team" if conversation.team_id else "the conversation has no team"
            raise Invalid("nowhere to escalate: %(where)s", where=where)
        await lifecycle.escalate_conversation(
            session, conversation_id=conversation.id, team_id=team_id, comment=action["comment"], actor_id=None, trigger="automation"
        )

    def describe(self, action: dict[str, Any], names: Names) -> str:
        team_id = action.get("team_id")
        to = UP_THE_PATH.in_(names.locale) if team_id is None else names.team(team_id)
        return f"{to}: {action.get('comment', '')}"
