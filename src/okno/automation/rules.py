"""Automation rules as data: admin changes with validation that says what is wrong.

An action is ``{"type": ..., ...}``: ``set_priority`` (priority), ``set_status`` (status,
reason?), ``add_tags`` (tags), ``assign`` (operator_id and/or team_id), ``escalate`` (comment,
team_id? — without it, one step up the conversation's team's escalation path), ``add_note`` (text),
``send_canned_answer`` (answer_id), ``call_webhook`` (url, secret? — sealed at rest, shown masked). Conditions are the routing rules' (``okno.routing.matching``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.engine import forget_rules
from okno.automation.webhook_calls import checked_webhook_action
from okno.conversations.catalog import status_definition, usable_reason
from okno.kit.audit import audit
from okno.kit.crypto import SecretBox
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.models import AutomationRule, CannedAnswer, Operator, Priority, Team
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
)
ACTION_TYPES = ("set_priority", "set_status", "add_tags", "assign", "escalate", "add_note", "send_canned_answer", "call_webhook")
MAX_ACTIONS = 10


async def list_rules(session: AsyncSession) -> list[AutomationRule]:
    return list(await session.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)))


async def add_rule(session: AsyncSession, *, fields: dict[str, Any], actor_id: int, box: SecretBox | None = None) -> AutomationRule:
    """``box`` seals webhook secrets (without it, a ``call_webhook`` action can't carry one)."""
    rule = AutomationRule()
    await _apply(session, rule, {"enabled": True, "conditions": [], **fields}, creating=True, box=box)
    if rule.position is None:
        rule.position = (await session.scalar(select(func.coalesce(func.max(AutomationRule.position), 0)))) + 10
    session.add(rule)
    await session.flush()
    await audit(session, actor_id=actor_id, action="automation_rule.added", subject=("automation_rule", rule.id))
    forget_rules()
    return rule


async def change_rule(
    session: AsyncSession, rule_id: int, *, fields: dict[str, Any], actor_id: int, box: SecretBox | None = None
) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"automation rule {rule_id} not found")
    await _apply(session, rule, fields, creating=False, box=box)
    await session.flush()
    await audit(session, actor_id=actor_id, action="automation_rule.changed", subject=("automation_rule", rule.id))
    forget_rules()
    return rule


async def remove_rule(session: AsyncSession, rule_id: int, *, actor_id: int) -> None:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"automation rule {rule_id} not found")
    await session.delete(rule)
    await audit(session, actor_id=actor_id, action="automation_rule.removed", subject=("automation_rule", rule_id), data={"name": rule.name})
    forget_rules()


async def _apply(session: AsyncSession, rule: AutomationRule, fields: dict[str, Any], *, creating: bool, box: SecretBox | None) -> None:
    if "name" in fields or creating:
        name = str(fields.get("name") or "").strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("name must be 1–200 characters")
        if await session.scalar(select(AutomationRule.id).where(AutomationRule.name == name, AutomationRule.id != rule.id)):
            raise Conflict(f"automation rule {name!r} already exists")
        rule.name = name
    if "event" in fields or creating:
        if fields.get("event") not in EVENTS:
            raise Invalid(f"event must be one of: {', '.join(EVENTS)}")
        rule.event = fields["event"]
    if "conditions" in fields:
        rule.conditions = checked_conditions(fields["conditions"])
    if "actions" in fields or creating:
        # a webhook secret sent back masked keeps the one the rule has for that URL
        kept = {a["url"]: a["secret_sealed"] for a in (rule.actions or []) if a.get("type") == "call_webhook" and "secret_sealed" in a}
        rule.actions = [await _checked_action(session, i, a, box, kept) for i, a in enumerate(_action_list(fields.get("actions")))]
    if fields.get("enabled") is not None:
        rule.enabled = bool(fields["enabled"])
    if fields.get("position") is not None:
        rule.position = int(fields["position"])


def _action_list(actions: Any) -> list[Any]:
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise Invalid(f"actions must be a list of 1–{MAX_ACTIONS} actions like {{\"type\": \"add_tags\", \"tags\": [\"vip\"]}}")
    return actions


async def _checked_action(  # noqa: C901 - one branch per type
    session: AsyncSession, index: int, action: Any, box: SecretBox | None, kept_secrets: dict[str, str]
) -> dict[str, Any]:
    where = f"actions[{index}]"
    kind = action.get("type") if isinstance(action, dict) else None
    if kind not in ACTION_TYPES:
        raise Invalid(f"{where}.type must be one of: {', '.join(ACTION_TYPES)}")
    if kind == "call_webhook":
        return checked_webhook_action(where, action, box, kept_secret=kept_secrets.get(str(action.get("url") or "").strip()))
    if kind == "set_priority":
        if action.get("priority") not in Priority._value2member_map_ or isinstance(action.get("priority"), bool):
            raise Invalid(f"{where}.priority must be 0, 1, 2 or 3")
        return {"type": kind, "priority": action["priority"]}
    if kind == "set_status":
        try:
            await status_definition(session, str(action.get("status")))
            if action.get("reason") is not None:
                await usable_reason(session, str(action["reason"]))
        except Invalid as exc:
            raise Invalid(f"{where}: {exc.detail}") from None
        return {"type": kind, "status": action["status"], "reason": action.get("reason")}
    if kind == "add_tags":
        tags = action.get("tags")
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and 0 < len(t.strip()) <= 64 for t in tags):
            raise Invalid(f"{where}.tags must be a list of 1–64 character words")
        return {"type": kind, "tags": [t.strip().lower() for t in tags]}
    if kind == "assign":
        clean: dict[str, Any] = {"type": kind}
        for key, model, what in (("operator_id", Operator, "operator"), ("team_id", Team, "team")):
            if action.get(key) is not None:
                if await session.get(model, action[key]) is None:
                    raise Invalid(f"{where}.{key}: {what} {action[key]} does not exist")
                clean[key] = action[key]
        if len(clean) == 1:
            raise Invalid(f"{where} needs operator_id, team_id or both")
        return clean
    if kind == "escalate":
        team_id = action.get("team_id")  # left out: up the conversation's escalation path
        if team_id is not None and (not isinstance(team_id, int) or isinstance(team_id, bool) or await session.get(Team, team_id) is None):
            raise Invalid(f"{where}.team_id: team {action.get('team_id')} does not exist (leave it out to follow the team's escalation path)")
        comment = str(action.get("comment") or "").strip()
        if not 1 <= len(comment) <= 2000:
            raise Invalid(f"{where}.comment must say why (1–2000 characters)")
        return {"type": kind, "comment": comment, **({"team_id": team_id} if team_id is not None else {})}
    if kind == "add_note":
        text = str(action.get("text") or "").strip()
        if not 1 <= len(text) <= 2000:
            raise Invalid(f"{where}.text must be 1–2000 characters")
        return {"type": kind, "text": text}
    answer_id = action.get("answer_id")
    if not isinstance(answer_id, int) or isinstance(answer_id, bool) or await session.get(CannedAnswer, answer_id) is None:
        raise Invalid(f"{where}.answer_id: canned answer {answer_id} does not exist")
    return {"type": kind, "answer_id": answer_id}
