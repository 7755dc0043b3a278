"""SLA: business-hours calendars, policies (targets per priority) and each conversation's targets.

A target's clock runs in business time: ``consumed_seconds`` of the target were used up before
the current running stretch, which began at ``resumed_at`` (None while paused or finished), so
``due_at`` = calendar.add(resumed_at, target - consumed). Pausing banks the stretch; a policy,
priority or calendar change recomputes ``due_at`` from the same two numbers.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.time import utcnow


class Metric(enum.StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


class TargetState(enum.StrEnum):
    running = "running"
    paused = "paused"  # the conversation is on hold
    met = "met"
    missed = "missed"  # completed after its deadline
    cancelled = "cancelled"  # never completed: e.g. resolved without any reply, or the policy was removed


OPEN_TARGET_STATES = (TargetState.running.value, TargetState.paused.value)


class BusinessHours(Base):
    """A named calendar: opening intervals per weekday in a time zone, minus holidays."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    weekly: Mapped[dict] = mapped_column(JsonDoc)  # {"mon": [["09:00", "18:00"]], …}
    holidays: Mapped[list] = mapped_column(JsonDoc, default=list)  # ["2026-11-30", …]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SlaPolicy(Base):
    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # {"urgent": {"first_response": 15, "next_response": 30, "resolution": 240}, "high": {…}, …}: business minutes
    targets: Mapped[dict] = mapped_column(JsonDoc)
    warning_minutes: Mapped[int] = mapped_column(Integer, default=0)  # warn this long (business time) before a deadline
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # for conversations whose team names none
    # a disabled policy governs nothing new (conversations fall back to the default one) but stays
    # for the SLA results that name it: a policy with history is disabled, never deleted
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SlaTarget(Base):
    """One target of one conversation, kept after completion as the result analytics reads."""

    __tablename__ = "sla_targets"
    __table_args__ = (
        UniqueConstraint("conversation_id", "metric", "cycle"),
        Index("ix_sla_targets_open", "state", "policy_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(20))
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # next response: one per waiting customer message
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"), default=None)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id", ondelete="SET NULL"), default=None)
    target_seconds: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default=TargetState.running.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    consumed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # results, both ways docs/design.md asks for: business time (paused time excluded) and wall-clock
    business_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    wall_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
