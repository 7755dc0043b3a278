"""Events the conversations domain emits (see :mod:`okno.bus.catalog`)."""

from __future__ import annotations

from dataclasses import dataclass

from okno.bus.catalog import EventType


@dataclass(frozen=True)
class ConversationOpened(EventType, topic="conversation.opened"):
    conversation_id: int
    customer_id: int
    channel_id: int | None


@dataclass(frozen=True)
class _ConversationChange(EventType):
    """Every change recorded by ``lifecycle.record_change``: who (``by``, None for a rule, a
    timer or the system) changed which conversation; ``via`` names an automation or timer."""

    conversation_id: int
    customer_id: int
    by: int | None


@dataclass(frozen=True)
class ConversationStatusChanged(_ConversationChange, topic="conversation.status_changed"):
    from_: str
    to: str
    type: str
    status: str
    reason: str | None
    comment: str | None


@dataclass(frozen=True)
class ConversationAssigned(_ConversationChange, topic="conversation.assigned"):
    from_: int | None
    to: int | None
    team_from: int | None
    team_to: int | None
    operator_id: int | None
    team_id: int | None
    comment: str | None


@dataclass(frozen=True)
class ConversationPriorityChanged(_ConversationChange, topic="conversation.priority_changed"):
    from_: int
    to: int
    comment: str | None


@dataclass(frozen=True)
class ConversationTagged(_ConversationChange, topic="conversation.tagged"):
    added: list[str]
    tags: list[str]


@dataclass(frozen=True)
class ConversationUntagged(_ConversationChange, topic="conversation.untagged"):
    removed: list[str]
    tags: list[str]


@dataclass(frozen=True)
class ConversationEscalated(_ConversationChange, topic="conversation.escalated"):
    from_: int | None
    to: int
    team_id: int
    previous_assignee: int | None
    trigger: str
    comment: str


@dataclass(frozen=True)
class ConversationSnoozed(_ConversationChange, topic="conversation.snoozed"):
    until: str
    status: str
    comment: str | None


@dataclass(frozen=True)
class ConversationSnoozeEnded(_ConversationChange, topic="conversation.snooze_ended"):
    until: str
    early: bool
    comment: str | None


@dataclass(frozen=True)
class _MessageEvent(EventType):
    message_id: int
    conversation_id: int
    customer_id: int
    channel_id: int | None


@dataclass(frozen=True)
class MessageReceived(_MessageEvent, topic="message.received"):
    """A customer's message, stored and threaded."""


@dataclass(frozen=True)
class MessageQueued(_MessageEvent, topic="message.queued"):
    """An operator's (or automation's) reply, waiting for the delivery worker."""


@dataclass(frozen=True)
class NoteAdded(_MessageEvent, topic="note.added"):
    """An internal note: never sent to the customer."""


@dataclass(frozen=True)
class NoteMentioned(EventType, topic="note.mentioned"):
    """An internal note named an operator (``okno.conversations.mentions``): his notification."""

    message_id: int
    conversation_id: int
    customer_id: int
    operator_id: int
    by: int | None


@dataclass(frozen=True)
class MessageStatusChanged(_MessageEvent, topic="message.status_changed"):
    """The provider reported an outbound message delivered, read or failed."""

    status: str



@dataclass(frozen=True)
class MessageUpdated(_MessageEvent, topic="message.updated"):
    """A later touch of the same item (a call's answer, end or recording) changed its content."""
