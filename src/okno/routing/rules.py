"""Routing rules as data: admin changes with validation that says what is wrong.

Actions: ``team_id`` (the queue), ``priority`` (0–3), ``tags`` (added), ``sla_policy_id``,
``skills`` (what an operator needs under the skills strategy). Rules run in ``position``
order on the events they list; a matching rule with ``stop`` ends the evaluation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.models import Priority, RoutingRule, SlaPolicy, Team
from okno.routing.hooks import forget_rules
from okno.routing.matching import checked_conditions

EVENTS = ("conversation.opened", "message.received", "conversation.status_changed", "customer.attributes_changed")
ACTIONS = ("team_id", "priority", "tags", "sla_policy_id", "skills")
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
        raise NotFound(f"routing rule {rule_id} not found")
    await _apply(session, rule, fields, creating=False)
    await session.flush()
    await audit(session, actor_id=actor_id, action="routing_rule.changed", subject=("routing_rule", rule.id))
    forget_rules()
    return rule


async def remove_rule(session: AsyncSession, rule_id: int, *, actor_id: int) -> None:
    rule = await session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"routing rule {rule_id} not found")
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
            raise Conflict(f"routing rule {name!r} already exists")
        rule.name = name
    if "events" in fields:
        events = fields["events"]
        if not isinstance(events, list) or not events or (bad := [e for e in events if e not in EVENTS]):
            raise Invalid(f"events must be a non-empty list of: {', '.join(EVENTS)}" + (f" (unknown: {bad})" if events else ""))
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


async def checked_actions(session: AsyncSession, actions: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(actions, dict) or not actions:
        raise Invalid(f"actions must set at least one of: {', '.join(ACTIONS)}")
    if unknown := sorted(set(actions) - set(ACTIONS)):
        raise Invalid(f"actions has unknown keys {unknown} (use {', '.join(ACTIONS)})")
    clean: dict[str, Any] = {}
    if "team_id" in actions:
        if await session.get(Team, actions["team_id"]) is None:
            raise Invalid(f"actions.team_id: team {actions['team_id']} does not exist")
        clean["team_id"] = actions["team_id"]
    if "priority" in actions:
        if actions["priority"] not in Priority._value2member_map_ or isinstance(actions["priority"], bool):
            raise Invalid("actions.priority must be 0 (low), 1 (normal), 2 (high) or 3 (urgent)")
        clean["priority"] = actions["priority"]
    if "sla_policy_id" in actions:
        if await session.get(SlaPolicy, actions["sla_policy_id"]) is None:
            raise Invalid(f"actions.sla_policy_id: SLA policy {actions['sla_policy_id']} does not exist")
        clean["sla_policy_id"] = actions["sla_policy_id"]
    for key in ("tags", "skills"):
        if key in actions:
            clean[key] = _words(f"actions.{key}", actions[key])
    return clean


def _words(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise Invalid(f"{where} must be a list of at most {MAX_TAGS} words")
    words: list[str] = []
    for raw in value:
        word = str(raw).strip().lower()
        if not word or len(word) > 64:
            raise Invalid(f"{where} has an empty or over-long entry {raw!r} (1–64 characters)")
        if word not in words:
            words.append(word)
    return words
