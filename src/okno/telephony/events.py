"""Events of a call (recorded by okno.telephony.calls; the operators' live feed carries them)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class _CallEvent(EventType):
    conversation_id: int
    customer_id: int
    message_id: int
    channel_id: int | None


@dataclass(frozen=True)
class CallRinging(_CallEvent, topic="call.ringing"):
    """An incoming call rings: the screen pop for the online operators who see the conversation
    (its team's, by the access rules of the live feed)."""

    team_id: int | None


@dataclass(frozen=True)
class CallAnswered(_CallEvent, topic="call.answered"):
    """An operator's extension answered: the pop becomes his (``operator_id`` None: an extension
    no operator has)."""

    operator_id: int | None
    extension: str | None


@dataclass(frozen=True)
class CallMissed(_CallEvent, topic="call.missed"):
    """Ended unanswered: the conversation stays open as a callback task in its team's queue."""

    disposition: str | None


@dataclass(frozen=True)
class CallCompleted(_CallEvent, topic="call.completed"):
    """Ended after an answer; ``callbacks`` lists the missed-call conversations it completed."""

    duration: int | None
    operator_id: int | None
    callbacks: list[int]
