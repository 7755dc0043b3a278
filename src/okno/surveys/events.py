"""Events the surveys domain emits (see :mod:`okno.bus.catalog`).

Analytics projections read survey figures from these events only, never from the surveys'
tables, so the two domains stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class SurveySent(EventType, topic="survey.sent"):
    survey_id: int
    kind: str  # "csat" | "nps" | "ces"
    conversation_id: int
    customer_id: int
    channel_id: int | None
    team_id: int | None
    operator_id: int | None  # the conversation's assignee when it was resolved
    sent_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class SurveyAnswered(EventType, topic="survey.answered"):
    survey_id: int
    kind: str  # "csat" (1-5) | "nps" (0-10) | "ces" (1-7)
    score: int
    conversation_id: int
    customer_id: int
    channel_id: int | None
    team_id: int | None
    operator_id: int | None
    answered_at: str  # ISO 8601, UTC
    comment: str | None = None
