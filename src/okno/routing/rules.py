"""Routing rules as data: admin changes with validation that says what is wrong.

Actions (``RoutingActions``, whose JSON Schema the API and the admin form use): ``team_id`` (the
queue), ``priority`` (0–3), ``tags`` (added), ``sla_policy_id``, ``skills`` (what an operator
needs under the skills strategy). Conditions: ``okno.routing.conditions``. Rules run in
``position`` order on the events they list; a matching rule with ``stop`` ends the evaluation.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.labels import labelled
from okno.kit.reasons import explained, reason
from okno.models import Priority, RoutingRule, SlaPolicy, Team
from okno.routing.hooks import forget_rules
from okno.routing.matching import checked_conditions

EVENTS = ("conversation.opened", "message.received", "conversation.status_changed", "customer.attributes_changed")
MAX_TAGS = 20


async def list_rules(session: AsyncSession) -> list[RoutingRule]:
    return list(await session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


async def add_rule(session: AsyncSession, *, fields: dict[str, Any], actor_id: int) -> RoutingRule:
    rule = RoutingRule()
    await _apply(session, rule, {"enabled": True, "stop": True, "events": ["conversation.opened"], "conditions": [], **fields}, creating=True)
    if rule.position is None:
        rule.position = (await session.scalar(select(func.coalesce(func.max(RoutingRule.position), 0)))) + 10
    session.add(rule)
    await session.flush()
    await audit(session, actor_id=actor_id, action="routing_rule.added", subject=("routing_rule", rule.id))
    forget_rules()
    return rule


async def change_rule(session: AsyncSession, rule_id: int, *, fields: dict[str, Any], actor_id: int) -> RoutingRule:
    rule = await session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound("%(what)s %(id)s not found", what="routing rule", id=rule_id)
    await _apply(session, rule, fields, creating=False)
    await session.flush()
    await audit(session, actor_id=actor_id, action="routing_rule.changed", subject=("routing_rule", rule.id))
    forget_rules()
    return rule


async def remove_rule(session: AsyncSession, rule_id: int, *, actor_id: int) -> None:
    rule = await session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound("%(what)s %(id)s not found", what="routing rule", id=rule_id)
    await session.delete(rule)
    await audit(session, actor_id=actor_id, action="routing_rule.removed", subject=("routing_rule", rule_id), data={"name": rule.name})
    forget_rules()


async def _apply(session: AsyncSession, rule: RoutingRule, fields: dict[str, Any], *, creating: bool) -> None:
    if "name" in fields or creating:
        name = str(fields.get("name") or "").strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("name must be 1–200 characters")
        taken = await session.scalar(select(RoutingRule.id).where(RoutingRule.name == name, RoutingRule.id != rule.id))
        if taken:
            raise Conflict("routing rule %(name)r already exists", name=name)
        rule.name = name
    if "events" in fields:
        events = fields["events"]
        if not isinstance(events, list) or not events or (bad := [e for e in events if e not in EVENTS]):
            if isinstance(events, list) and events:
                raise Invalid("events must be a non-empty list of: %(events)s (unknown: %(bad)s)", events=", ".join(EVENTS), bad=bad)
            raise Invalid("events must be a non-empty list of: %(events)s", events=", ".join(EVENTS))
        rule.events = list(dict.fromkeys(events))
    if "conditions" in fields:
        rule.conditions = checked_conditions(fields["conditions"])
    if "actions" in fields or creating:
        rule.actions = await checked_actions(session, fields.get("actions") or {})
    for flag in ("enabled", "stop"):
        if fields.get(flag) is not None:
            setattr(rule, flag, bool(fields[flag]))
    if fields.get("position") is not None:
        rule.position = int(fields["position"])


class RoutingActions(BaseModel):
    """What a matching routing rule sets; its JSON Schema is the API's and the admin form's."""

    model_config = ConfigDict(extra="forbid")

    team_id: int | None = labelled("Team", "Группа", default=None, strict=True, json_schema_extra={"x-options": "teams"})
    priority: Literal[0, 1, 2, 3] | None = labelled("Priority", "Приоритет", default=None, json_schema_extra={"x-options": "priorities"})
    tags: list[str] | None = labelled("Tags", "Теги", default=None, help_en="added; separated by commas", help_ru="добавляются; через запятую")
    sla_policy_id: int | None = labelled("SLA policy", "Политика SLA", default=None, strict=True, json_schema_extra={"x-options": "policies"})
    skills: list[str] | None = labelled(
        "Skills", "Навыки", default=None, help_en="what an operator needs under the skills strategy; separated by commas",
        help_ru="что нужно оператору при распределении по навыкам; через запятую",
    )

    @field_validator("priority", mode="before")
    @classmethod
    def _known_priority(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or value not in Priority._value2member_map_):
            raise reason("must be 0 (low), 1 (normal), 2 (high) or 3 (urgent)")
        return value

    @field_validator("tags", "skills", mode="before")
    @classmethod
    def _words(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > MAX_TAGS:
            raise reason("must be a list of at most %(num)s words", num=MAX_TAGS)
        words: list[str] = []
        for raw in value:
            word = str(raw).strip().lower()
            if not word or len(word) > 64:
                raise reason("has an empty or over-long entry %(raw)r (1–64 characters)", raw=raw)
            if word not in words:
                words.append(word)
        return words


ACTIONS = tuple(RoutingActions.model_fields)


async def checked_actions(session: AsyncSession, actions: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(actions, dict) or not actions:
        raise Invalid("actions must set at least one of: %(actions)s", actions=', '.join(ACTIONS))
    if unknown := sorted(set(actions) - set(ACTIONS)):
        raise Invalid("actions has unknown keys %(unknown)s (use %(actions)s)", unknown=unknown, actions=', '.join(ACTIONS))
    clean = explained(RoutingActions, actions, where="actions").model_dump(exclude_none=True)
    if not clean:
        raise Invalid("actions must set at least one of: %(actions)s", actions=', '.join(ACTIONS))
    if "team_id" in clean and await session.get(Team, clean["team_id"]) is None:
        raise Invalid("actions.team_id: team %(team_id)s does not exist", team_id=clean['team_id'])
    if "sla_policy_id" in clean and await session.get(SlaPolicy, clean["sla_policy_id"]) is None:
        raise Invalid("actions.sla_policy_id: SLA policy %(sla_policy_id)s does not exist", sla_policy_id=clean['sla_policy_id'])
    return clean
