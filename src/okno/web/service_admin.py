"""The admin page's service-process sections: statuses and reasons, routing rules, SLA calendars
and policies, automation rules — read in one go, and described the way an admin reads them.

Rules are stored as the API takes them (``{"field", "op", "value"}`` conditions, action objects);
here they become short sentences in the operator's language: conditions with the names of the
condition registry, automation actions by their own ``describe``. A field, operator or action type
that is not installed is shown as written, never dropped. The rule forms are generated from the
same schemas the API publishes (``okno.web.schema_forms``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from babel.dates import get_day_names
from babel.units import format_unit
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.actions import ACTIONS as AUTOMATION_ACTIONS
from okno.automation.actions import published_models as published_actions
from okno.automation.rules import EVENTS as AUTOMATION_EVENTS
from okno.automation.rules import list_rules as list_automation_rules
from okno.conversations.catalog import BUILT_IN_STATUSES, list_reasons, list_statuses
from okno.models import (
    AutomationRule,
    BusinessHours,
    CannedAnswer,
    Channel,
    ClosingReason,
    Metric,
    Operator,
    OperatorKind,
    Priority,
    RoutingRule,
    SlaPolicy,
    StatusDefinition,
    StatusType,
    Team,
)
from okno.routing.conditions import CONTACT_COUNT, FIELDS, OPS, field_of
from okno.routing.rules import EVENTS as ROUTING_EVENTS
from okno.routing.rules import RoutingActions
from okno.routing.rules import list_rules as list_routing_rules
from okno.sla.hours import WEEKDAYS
from okno.web.i18n import Translator
from okno.web.pages import N_
from okno.web.schema_forms import FormField, form_fields

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
    "review.negative": N_("a negative review (1–2 stars) arrives"),
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
        operators=list(await session.scalars(select(Operator).where(Operator.kind == OperatorKind.person.value).order_by(Operator.name))),
        channels=list(await session.scalars(select(Channel).order_by(Channel.name))),
        canned=list(await session.scalars(select(CannedAnswer).order_by(CannedAnswer.shortcut))),
    )


@dataclass(frozen=True)
class Describer:
    """Turns stored conditions and actions into (label, text) pairs in the operator's language;
    also the names an action's ``describe`` shows (``okno.automation.actions.Names``)."""

    t: Translator
    view: ServiceAdminView

    @property
    def locale(self) -> str:
        return self.t.locale

    def _names(self, rows: list[Any], attr: str = "name") -> dict[Any, str]:
        return {r.id: getattr(r, attr) for r in rows}

    def priority(self, value: Any) -> str:
        return self.t.gettext(PRIORITY_LABELS[value]) if isinstance(value, int) and 0 <= value < len(PRIORITY_LABELS) else str(value)

    def status(self, key: Any) -> str:
        found = next((s for s in self.view.statuses if s.key == key), None)
        return (found.label.get(self.t.locale) or found.key) if found else str(key)

    def reason(self, key: Any) -> str:
        found = next((r for r in self.view.reasons if r.key == key), None)
        return (found.label.get(self.t.locale) or found.key) if found else str(key)

    def team(self, team_id: Any) -> str:
        return self._names(self.view.teams).get(team_id, str(team_id))

    def operator(self, operator_id: Any) -> str:
        return self._names(self.view.operators).get(operator_id, str(operator_id))

    def canned_answer(self, answer_id: Any) -> str:
        return {a.id: f"/{a.shortcut} ({a.language})" for a in self.view.canned}.get(answer_id, str(answer_id))

    def event(self, key: str) -> str:
        return self.t.gettext(EVENT_LABELS[key]) if key in EVENT_LABELS else key

    def condition(self, condition: dict[str, Any]) -> tuple[str, str, str]:
        """``(what, how, value)``: ``("Message text", "matches the regular expression", "^refund")``."""
        name, op, value = condition.get("field", ""), condition.get("op", ""), condition.get("value")
        spec = field_of(name)
        what = spec.label.in_(self.locale) if spec else name
        if spec and spec.is_prefix:
            what = f"{what} {name.removeprefix(spec.key)}"
        how = OPS[op].in_(self.locale) if op in OPS else op
        if op in ("exists", "not_exists"):
            return what, how, ""
        if name == CONTACT_COUNT:
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
            "conversation.priority": self.priority,
            "conversation.status": self.status,
            "conversation.reason": self.reason,
        }.get(name, str)
        return ", ".join(show(v) for v in values)

    def routing_actions(self, actions: dict[str, Any]) -> list[tuple[str, str]]:
        labels = {f.name: f.label for f in _routing_action_fields(self.locale)}
        shown = {
            "team_id": self.team,
            "priority": self.priority,
            "sla_policy_id": lambda v: self._names(self.view.policies).get(v, str(v)),
            "tags": ", ".join,
            "skills": ", ".join,
        }
        return [(labels.get(key, key), shown.get(key, _as_json)(value)) for key, value in actions.items()]

    def automation_action(self, action: dict[str, Any]) -> tuple[str, str]:
        """The action's own label and ``describe``; an action not installed is shown as stored."""
        kind = action.get("type", "")
        if (performer := AUTOMATION_ACTIONS.get(kind)) is None:
            return str(kind), _as_json({k: v for k, v in action.items() if k not in ("type", "secret_sealed")})
        return performer.label.in_(self.locale), performer.describe(action, self)

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


@cache
def _routing_action_fields(locale: str) -> tuple[FormField, ...]:
    return tuple(form_fields(RoutingActions.model_json_schema(), locale))


@cache
def _action_kinds(locale: str) -> tuple[dict[str, Any], ...]:
    """Each automation action with its name and the form fields of its params, in one language."""
    return tuple(
        {"type": action.type, "label": action.label.in_(locale), "fields": form_fields(model.model_json_schema(), locale)}
        for action, model in zip(AUTOMATION_ACTIONS.values(), published_actions(), strict=True)
    )


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
        "action_kinds": _action_kinds(t.locale),
        "routing_action_fields": _routing_action_fields(t.locale),
        "event_labels": {key: t.gettext(text) for key, text in EVENT_LABELS.items()},
        "priorities": [(p.name, p.value, t.gettext(PRIORITY_LABELS[p.value])) for p in Priority],
        "metrics": [(m.value, t.gettext(METRIC_LABELS.get(m.value, m.value))) for m in Metric],
        "weekdays": [(day, days[i].capitalize()) for i, day in enumerate(WEEKDAYS)],
        "condition_fields": {
            "fields": [
                {"key": f.key, "label": f.label.in_(t.locale), "ops": list(f.ops), "widget": f.widget, "extras": list(f.extras)}
                for f in FIELDS.values()
            ],
            "ops": {key: label.in_(t.locale) for key, label in OPS.items()},
        },
    }
