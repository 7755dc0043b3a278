"""The admin page's service-process sections: statuses and reasons, routing rules, SLA calendars
and policies, automation rules — read in one go, and described the way an admin reads them.

Rules are stored as the API takes them (``{"field", "op", "value"}`` conditions, action objects);
here they become short sentences in the operator's language. A field, operator or action type
this module does not know yet is shown as written, never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from babel.dates import get_day_names
from babel.units import format_unit
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.actions import ACTIONS as AUTOMATION_ACTIONS
from okno.automation.rules import EVENTS as AUTOMATION_EVENTS
from okno.conversations.catalog import BUILT_IN_STATUSES, list_reasons, list_statuses
from okno.models import (
    AutomationRule,
    BusinessHours,
    CannedAnswer,
    Channel,
    ClosingReason,
    Metric,
    Operator,
    Priority,
    RoutingRule,
    SlaPolicy,
    StatusDefinition,
    StatusType,
    Team,
)
from okno.automation.rules import list_rules as list_automation_rules
from okno.routing.rules import EVENTS as ROUTING_EVENTS
from okno.routing.rules import list_rules as list_routing_rules
from okno.sla.hours import WEEKDAYS
from okno.web.i18n import Translator
from okno.web.pages import N_

EVENT_LABELS = {
    "conversation.opened": N_("a conversation opens"),
    "message.received": N_("a message arrives"),
    "conversation.status_changed": N_("the status changes"),
    "conversation.priority_changed": N_("the priority changes"),
    "conversation.assigned": N_("the conversation is assigned"),
    "conversation.resolved": N_("the conversation is resolved"),
    "sla.warning": N_("an SLA deadline is near"),
    "sla.breached": N_("an SLA deadline is missed"),
    "customer.attributes_changed": N_("customer attributes change"),
}

# the condition builder's fields and the operators each allows (``okno.routing.matching`` checks
# them again; tests/web/test_admin_service.py keeps the two tables equal)
CONDITION_FIELDS = {
    "channel.kind": (N_("Channel kind"), ("eq", "ne", "in", "not_in")),
    "channel.id": (N_("Channel"), ("eq", "ne", "in", "not_in")),
    "customer.": (N_("Customer attribute"), ("eq", "ne", "in", "not_in", "exists", "not_exists", "gte", "lte")),
    "message.text": (N_("Message text"), ("contains", "not_contains", "matches")),
    "time": (N_("Time of day"), ("between",)),
    "weekday": (N_("Weekday"), ("in", "not_in")),
    "conversation.reason": (N_("Closing reason"), ("eq", "ne", "in", "not_in", "exists", "not_exists")),
    "conversation.priority": (N_("Priority"), ("eq", "ne", "gte", "lte")),
    "conversation.status": (N_("Status"), ("eq", "ne", "in", "not_in")),
    "contact_count_same_reason": (N_("Contacts about the same reason"), ("eq", "gte", "lte")),
}

OP_LABELS = {
    "eq": N_("is"),
    "ne": N_("is not"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "contains": N_("contains any of"),
    "not_contains": N_("contains none of"),
    "matches": N_("matches the regular expression"),
    "exists": N_("is set"),
    "not_exists": N_("is not set"),
    "gte": N_("is at least"),
    "lte": N_("is at most"),
    "between": N_("is between"),
}

ROUTING_ACTION_LABELS = {
    "team_id": N_("Team"),
    "priority": N_("Priority"),
    "tags": N_("Tags"),
    "sla_policy_id": N_("SLA policy"),
    "skills": N_("Skills"),
}

AUTOMATION_ACTION_LABELS = {
    "set_priority": N_("Set priority"),
    "set_status": N_("Set status"),
    "add_tags": N_("Add tags"),
    "assign": N_("Assign"),
    "escalate": N_("Escalate"),
    "add_note": N_("Add an internal note"),
    "send_canned_answer": N_("Send a canned answer"),
    "call_webhook": N_("Call a webhook"),
    "send_survey": N_("Send a survey"),
}

STATUS_TYPE_LABELS = {
    "new": N_("New"),
    "open": N_("Open"),
    "pending": N_("Pending"),
    "on_hold": N_("On hold (SLA paused)"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}

PRIORITY_LABELS = (N_("Low"), N_("Normal"), N_("High"), N_("Urgent"))
METRIC_LABELS = {"first_response": N_("First response"), "next_response": N_("Next response"), "resolution": N_("Resolution")}

# a worked example for the automation form's JSON box, valid as written
AUTOMATION_ACTIONS_EXAMPLE = '[{"type": "set_priority", "priority": 2}, {"type": "add_tags", "tags": ["vip"]}]'


@dataclass(frozen=True)
class ServiceAdminView:
    statuses: list[StatusDefinition]
    reasons: list[ClosingReason]
    routing_rules: list[RoutingRule]
    calendars: list[BusinessHours]
    policies: list[SlaPolicy]
    automation_rules: list[AutomationRule]
    teams: list[Team]
    operators: list[Operator]
    channels: list[Channel]
    canned: list[CannedAnswer]


async def service_admin_view(session: AsyncSession) -> ServiceAdminView:
    return ServiceAdminView(
        statuses=await list_statuses(session),
        reasons=await list_reasons(session),
        routing_rules=await list_routing_rules(session),
        calendars=list(await session.scalars(select(BusinessHours).order_by(BusinessHours.name))),
        policies=list(await session.scalars(select(SlaPolicy).order_by(SlaPolicy.name))),
        automation_rules=await list_automation_rules(session),
        teams=list(await session.scalars(select(Team).order_by(Team.name))),
        operators=list(await session.scalars(select(Operator).order_by(Operator.name))),
        channels=list(await session.scalars(select(Channel).order_by(Channel.name))),
        canned=list(await session.scalars(select(CannedAnswer).order_by(CannedAnswer.shortcut))),
    )


@dataclass(frozen=True)
class Describer:
    """Turns stored conditions and actions into (label, text) pairs in the operator's language."""

    t: Translator
    view: ServiceAdminView

    def _names(self, rows: list[Any], attr: str = "name") -> dict[Any, str]:
        return {r.id: getattr(r, attr) for r in rows}

    def _priority(self, value: Any) -> str:
        return self.t.gettext(PRIORITY_LABELS[value]) if isinstance(value, int) and 0 <= value < len(PRIORITY_LABELS) else str(value)

    def _status(self, key: Any) -> str:
        found = next((s for s in self.view.statuses if s.key == key), None)
        return (found.label.get(self.t.locale) or found.key) if found else str(key)

    def _reason(self, key: Any) -> str:
        found = next((r for r in self.view.reasons if r.key == key), None)
        return (found.label.get(self.t.locale) or found.key) if found else str(key)

    def event(self, key: str) -> str:
        return self.t.gettext(EVENT_LABELS[key]) if key in EVENT_LABELS else key

    def condition(self, condition: dict[str, Any]) -> tuple[str, str, str]:
        """``(what, how, value)``: ``("Message text", "matches the regular expression", "^refund")``."""
        name, op, value = condition.get("field", ""), condition.get("op", ""), condition.get("value")
        if name.startswith("customer."):
            what = f"{self.t.gettext('Customer attribute')} {name.removeprefix('customer.')}"
        else:
            what = self.t.gettext(CONDITION_FIELDS[name][0]) if name in CONDITION_FIELDS else name
        how = self.t.gettext(OP_LABELS[op]) if op in OP_LABELS else op
        if op in ("exists", "not_exists"):
            return what, how, ""
        if name == "contact_count_same_reason":
            days = condition.get("window_days", 30)
            return what, how, f"{value} ({self.t.ngettext('within %(num)d day', 'within %(num)d days', days)})"
        return what, how, self._condition_value(name, op, value, condition.get("timezone"))

    def _condition_value(self, name: str, op: str, value: Any, timezone: str | None) -> str:
        values = value if isinstance(value, list) else [value]
        if name == "time" and op == "between" and len(values) == 2:
            return f"{values[0]}–{values[1]} ({timezone})"
        if name == "weekday":
            days = get_day_names("abbreviated", locale=self.t.locale)
            shown = [days[WEEKDAYS.index(v)] if v in WEEKDAYS else str(v) for v in values]
            return f"{', '.join(shown)} ({timezone})"
        show = {
            "channel.id": lambda v: self._names(self.view.channels).get(v, str(v)),
            "conversation.priority": self._priority,
            "conversation.status": self._status,
            "conversation.reason": self._reason,
        }.get(name, str)
        if name == "conversation.priority" and op in ("gte", "lte"):
            show = self._priority
        return ", ".join(show(v) for v in values)

    def routing_actions(self, actions: dict[str, Any]) -> list[tuple[str, str]]:
        shown = {
            "team_id": lambda v: self._names(self.view.teams).get(v, str(v)),
            "priority": self._priority,
            "sla_policy_id": lambda v: self._names(self.view.policies).get(v, str(v)),
            "tags": lambda v: ", ".join(v),
            "skills": lambda v: ", ".join(v),
        }
        return [
            (self.t.gettext(ROUTING_ACTION_LABELS[key]) if key in ROUTING_ACTION_LABELS else key, shown.get(key, _as_json)(value))
            for key, value in actions.items()
        ]

    def automation_action(self, action: dict[str, Any]) -> tuple[str, str]:
        kind = action.get("type", "")
        label = self.t.gettext(AUTOMATION_ACTION_LABELS[kind]) if kind in AUTOMATION_ACTION_LABELS else kind
        teams, operators = self._names(self.view.teams), self._names(self.view.operators)
        if kind == "set_priority":
            return label, self._priority(action.get("priority"))
        if kind == "set_status":
            reason = action.get("reason")
            return label, self._status(action.get("status")) + (f" ({self._reason(reason)})" if reason else "")
        if kind == "add_tags":
            return label, ", ".join(action.get("tags") or [])
        if kind == "assign":
            whom = [operators.get(action["operator_id"], str(action["operator_id"]))] if action.get("operator_id") is not None else []
            whom += [teams.get(action["team_id"], str(action["team_id"]))] if action.get("team_id") is not None else []
            return label, ", ".join(whom)
        if kind == "escalate":
            team_id = action.get("team_id")
            to = self.t.gettext("up the team's escalation path") if team_id is None else teams.get(team_id, str(team_id))
            return label, f"{to}: {action.get('comment', '')}"
        if kind == "call_webhook":  # the secret stays out of the page: only whether calls are signed
            signed = f" · {self.t.gettext('signed')}" if action.get("secret_sealed") or action.get("secret") else ""
            return label, f"{action.get('url', '')}{signed}"
        if kind == "add_note":
            return label, str(action.get("text", ""))
        if kind == "send_canned_answer":
            answers = {a.id: f"/{a.shortcut} ({a.language})" for a in self.view.canned}
            return label, answers.get(action.get("answer_id"), str(action.get("answer_id")))
        return label, _as_json({k: v for k, v in action.items() if k != "type"})

    def minutes(self, minutes: int) -> str:
        """``90`` → ``1 h 30 min`` (``1 ч 30 мин``): exact, never rounded."""
        hours, rest = divmod(int(minutes), 60)
        parts = [format_unit(hours, "duration-hour", length="short", locale=self.t.locale)] if hours else []
        if rest or not hours:
            parts.append(format_unit(rest, "duration-minute", length="short", locale=self.t.locale))
        return " ".join(parts)

    def weekly(self, weekly: dict[str, list[list[str]]]) -> list[tuple[str, str]]:
        days = get_day_names("abbreviated", locale=self.t.locale)
        return [
            (days[WEEKDAYS.index(day)], ", ".join(f"{start}–{end}" for start, end in weekly[day]))
            for day in WEEKDAYS
            if weekly.get(day)
        ]


def _as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def service_context(t: Translator, view: ServiceAdminView) -> dict[str, Any]:
    """What ``_admin_service.html`` needs besides ``_`` and ``me``."""
    days = get_day_names("wide", locale=t.locale)
    return {
        "service": view,
        "describe": Describer(t, view),
        "built_in_statuses": BUILT_IN_STATUSES,
        "status_types": {key: t.gettext(STATUS_TYPE_LABELS.get(key, key)) for key in StatusType.__members__},
        "routing_events": ROUTING_EVENTS,
        "automation_events": AUTOMATION_EVENTS,
        "automation_action_types": tuple(AUTOMATION_ACTIONS),
        "automation_example": AUTOMATION_ACTIONS_EXAMPLE,
        "event_labels": {key: t.gettext(text) for key, text in EVENT_LABELS.items()},
        "priorities": [(p.name, p.value, t.gettext(PRIORITY_LABELS[p.value])) for p in Priority],
        "metrics": [(m.value, t.gettext(METRIC_LABELS.get(m.value, m.value))) for m in Metric],
        "weekdays": [(day, days[i].capitalize()) for i, day in enumerate(WEEKDAYS)],
        "condition_fields": {
            "fields": [{"key": key, "label": t.gettext(label), "ops": list(ops)} for key, (label, ops) in CONDITION_FIELDS.items()],
            "ops": {key: t.gettext(label) for key, label in OP_LABELS.items()},
        },
    }
