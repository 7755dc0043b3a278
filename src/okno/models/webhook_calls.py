"""Outbound webhook calls an automation rule asked for: durable jobs, retried until done or failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import Sealed
from okno.kit.time import utcnow


class WebhookCall(Base):
    __tablename__ = "webhook_calls"
    __table_args__ = (Index("ix_webhook_calls_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("automation_rules.id", ondelete="SET NULL"), default=None)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), default=None)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    # the exact bytes POSTed on every attempt (so the signature and the receiver's dedupe agree)
    # sealed at rest (okno.kit.pii): it carries the customer's identities and name
    body: Mapped[str] = mapped_column(Sealed)
    secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    # sent as ``Idempotency-Key`` on every attempt; one per (event, rule action, conversation)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
