"""Events the SLA domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class _TargetEvent(EventType):
    conversation_id: int
    customer_id: int
    team_id: int | None
    target_id: int
    metric: str
    due_at: str | None


@dataclass(frozen=True)
class SlaWarning(_TargetEvent, topic="sla.warning"):
    """A target's warning moment passed while it still runs."""


@dataclass(frozen=True)
class SlaBreached(_TargetEvent, topic="sla.breached"):
    """A target's deadline passed while it still runs."""


@dataclass(frozen=True)
class SlaPolicyChanged(EventType, topic="sla.policy_changed"):
    policy_id: int
    is_default: bool


@dataclass(frozen=True)
class SlaCalendarChanged(EventType, topic="sla.calendar_changed"):
    calendar_id: int
