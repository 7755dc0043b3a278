"""Automation rules as data: admin changes with validation that says what is wrong.

An action is ``{"type": ..., **params}``, one of ``okno.automation.actions`` (each checks its own
params); conditions are the routing rules' (``okno.routing.matching``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.actions import ACTIONS, Checking, checked_action
from okno.automation.engine import forget_rules
from okno.kit.audit import audit
from okno.kit.crypto import SecretBox
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.outbound_urls import OutboundUrls
from okno.models import AutomationRule
from okno.routing.matching import checked_conditions

EVENTS = (
    "conversation.opened",
    "conversation.status_changed",
    "conversation.priority_changed",
    "conversation.assigned",
    "message.received",
    "sla.warning",
    "sla.breached",
    "customer.attributes_changed",
    "review.negative",
)
MAX_ACTIONS = 10


async def list_rules(session: AsyncSession) -> list[AutomationRule]:
    return list(await session.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)))


async def add_rule(
    session: AsyncSession, *, fields: dict[str, Any], actor_id: int, box: SecretBox | None = None, urls: OutboundUrls | None = None
) -> AutomationRule:
    """``box`` seals webhook secrets (without it, a ``call_webhook`` action can't carry one);
    ``urls`` is the outbound URL policy webhook URLs are checked against when saved."""
    rule = AutomationRule()
    await _apply(session, rule, {"enabled": True, "conditions": [], **fields}, creating=True, box=box, urls=urls)
    if rule.position is None:
        rule.position = (await session.scalar(select(func.coalesce(func.max(AutomationRule.position), 0)))) + 10
    session.add(rule)
    await session.flush()
    await audit(session, actor_id=actor_id, action="automation_rule.added", subject=("automation_rule", rule.id))
    forget_rules()
    return rule


async def change_rule(
    session: AsyncSession, rule_id: int, *, fields: dict[str, Any], actor_id: int, box: SecretBox | None = None,
    urls: OutboundUrls | None = None,
) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound("%(what)s %(id)s not found", what="automation rule", id=rule_id)
    await _apply(session, rule, fields, creating=False, box=box, urls=urls)
    await session.flush()
    await audit(session, actor_id=actor_id, action="automation_rule.changed", subject=("automation_rule", rule.id))
    forget_rules()
    return rule


async def remove_rule(session: AsyncSession, rule_id: int, *, actor_id: int) -> None:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound("%(what)s %(id)s not found", what="automation rule", id=rule_id)
    await session.delete(rule)
    await audit(session, actor_id=actor_id, action="automation_rule.removed", subject=("automation_rule", rule_id), data={"name": rule.name})
    forget_rules()


async def _apply(
    session: AsyncSession, rule: AutomationRule, fields: dict[str, Any], *, creating: bool, box: SecretBox | None, urls: OutboundUrls | None
) -> None:
    if "name" in fields or creating:
        name = str(fields.get("name") or "").strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("name must be 1–200 characters")
        if await session.scalar(select(AutomationRule.id).where(AutomationRule.name == name, AutomationRule.id != rule.id)):
            raise Conflict("automation rule %(name)r already exists", name=name)
        rule.name = name
    if "event" in fields or creating:
        if fields.get("event") not in EVENTS:
            raise Invalid("event must be one of: %(events)s", events=', '.join(EVENTS))
        rule.event = fields["event"]
    if "conditions" in fields:
        rule.conditions = checked_conditions(fields["conditions"])
    if "actions" in fields or creating:
        previous = tuple(rule.actions or ())  # e.g. a webhook secret sent back masked keeps the sealed one
        rule.actions = [
            await checked_action(action, Checking(session, f"actions[{i}]", box=box, previous=previous, urls=urls))
            for i, action in enumerate(_action_list(fields.get("actions")))
        ]
    if fields.get("enabled") is not None:
        rule.enabled = bool(fields["enabled"])
    if fields.get("position") is not None:
        rule.position = int(fields["position"])


def _action_list(actions: Any) -> list[Any]:
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise Invalid(
            'actions must be a list of 1–%(num)s action like {"type": "add_tags", "tags": ["vip"]} (types: %(actions)s)',
            plural='actions must be a list of 1–%(num)s actions like {"type": "add_tags", "tags": ["vip"]} (types: %(actions)s)',
            num=MAX_ACTIONS, actions=', '.join(ACTIONS),
        )
    return actions
