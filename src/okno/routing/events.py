"""Events the routing domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class ConversationRouted(EventType, topic="conversation.routed"):
    conversation_id: int
    customer_id: int
    team_id: int | None
    rules: list[str]


@dataclass(frozen=True)
class TeamChanged(EventType, topic="team.changed"):
    team_id: int


@dataclass(frozen=True)
class OperatorPresenceChanged(EventType, topic="operator.presence_changed"):
    operator_id: int
    from_: str
    to: str


@dataclass(frozen=True)
class OperatorRoutingChanged(EventType, topic="operator.routing_changed"):
    """An operator's skills, capacity or teams changed (``team_id``: the team joined, if any)."""

    operator_id: int
    team_id: int | None = None
