from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.time import utcnow


class ConversationStatus(enum.StrEnum):
    open = "open"
    pending = "pending"
    on_hold = "on_hold"
    resolved = "resolved"
    closed = "closed"


# The built-in keys only. Statuses are configurable: ask about a status's *type* instead
# (``okno.conversations.catalog.unfinished_status_keys``), so custom statuses behave too.
UNFINISHED_STATUSES = (ConversationStatus.open, ConversationStatus.pending, ConversationStatus.on_hold)


class Priority(enum.IntEnum):
    low = 0
    normal = 1
    high = 2
    urgent = 3


class Direction(enum.StrEnum):
    inbound = "in"
    outbound = "out"
    note = "note"


class MessageKind(enum.StrEnum):
    message = "message"
    call = "call"
    review = "review"
    answer = "answer"  # a survey answer or a pressed button / chosen option
    system = "system"


class ActorType(enum.StrEnum):
    """Who wrote a message or caused a timeline entry (``author_id``/``actor_id`` hold an operator)."""

    customer = "customer"
    operator = "operator"
    bot = "bot"
    automation = "automation"
    system = "system"


class MessageStatus(enum.StrEnum):
    received = "received"  # inbound, stored
    queued = "queued"  # outbound, waiting for the delivery worker
    sent = "sent"  # accepted by the provider
    delivered = "delivered"
    read = "read"
    failed = "failed"
    noted = "noted"  # internal note, never leaves okno


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_customer_status", "customer_id", "status"),
        Index("ix_conversations_status_last", "status", "last_message_at"),
        Index("ix_conversations_sla_due_at", "sla_due_at"),
        Index("ix_conversations_queue", "team_id", "queued_at"),
        Index("ix_conversations_assignee_status", "assignee_id", "status"),
        Index("ix_conversations_thread", "channel_id", "thread_key"),
        Index("ix_conversations_status_inbound", "status", "last_inbound_at", "id"),  # the inbox's keyset pages
        Index("ix_conversations_team_status", "team_id", "status"),  # a team's unfinished conversations
        # a list's total and the counters' grouped reads, from the index alone (migration 0026_inbox_live)
        Index("ix_conversations_status_team_assignee", "status", "team_id", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(String(32), default=ConversationStatus.open.value)  # a StatusDefinition key
    reason: Mapped[str | None] = mapped_column(String(100), default=None)
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.normal.value)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # the nearest unmet SLA deadline (None: no running target); maintained by okno.sla
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    tags: Mapped[list] = mapped_column(JsonDoc, default=list)
    # routing: the SLA policy a rule chose (else the team's), skills an operator needs, the
    # channel medium capacity is counted in, and since when it waits in its team's queue
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"), default=None)
    required_skills: Mapped[list] = mapped_column(JsonDoc, default=list)
    medium: Mapped[str] = mapped_column(String(8), default="chat")
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # set while snoozed (an on-hold status a timer ends); cleared by any status change
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # how touches group into this conversation (the adapter's threading): None for per-customer
    # channels; an e-mail thread's root Message-ID, a call id, a review id… otherwise
    thread_key: Mapped[str | None] = mapped_column(String(255), default=None)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_customer", "customer_id", "id"),
        Index("ix_messages_provider", "channel_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    direction: Mapped[str] = mapped_column(String(4))
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list] = mapped_column(JsonDoc, default=list)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(16), default=MessageKind.message.value, server_default=MessageKind.message.value)
    subject: Mapped[str | None] = mapped_column(Text, default=None)
    # sanitised HTML beside the plain text (never stored unsanitised)
    html: Mapped[str | None] = mapped_column(Text, default=None)
    # structured content: outbound interactive choices or a template, an inbound answer…
    content: Mapped[dict | None] = mapped_column(JsonDoc, default=None)
    actor_type: Mapped[str | None] = mapped_column(String(16), default=None)  # an ActorType
    actor_ref: Mapped[str | None] = mapped_column(String(100), default=None)  # a rule id, a bot key…
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # when its text, HTML, content and attachments were removed (an erase or the retention job)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
