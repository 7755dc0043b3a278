"""Surveys (CSAT, NPS, CES) and each survey sent to a customer after a conversation."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.time import utcnow


class SurveyKind(enum.StrEnum):
    csat = "csat"  # 1-5
    nps = "nps"  # 0-10
    ces = "ces"  # 1-7


SCALES: dict[str, tuple[int, int]] = {SurveyKind.csat: (1, 5), SurveyKind.nps: (0, 10), SurveyKind.ces: (1, 7)}


class RequestState(enum.StrEnum):
    scheduled = "scheduled"  # waiting for its delay (a timer)
    sent = "sent"  # the question went out; waiting for the score
    retried = "retried"  # an unclear answer got the one polite retry
    awaiting_comment = "awaiting_comment"  # scored; the follow-up question went out
    answered = "answered"  # final: scored (with or without a comment)
    unanswered = "unanswered"  # final: no usable answer after the retry
    skipped = "skipped"  # final: not sent (``skip_reason``)


OPEN_STATES = (RequestState.sent.value, RequestState.retried.value, RequestState.awaiting_comment.value)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(32), default="resolved")
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    team_ids: Mapped[list] = mapped_column(JSON, default=list)  # empty: every team
    channel_ids: Mapped[list] = mapped_column(JSON, default=list)  # empty: every channel
    question: Mapped[dict] = mapped_column(JSON, default=dict)  # {"ru": ..., "en": ...}
    follow_up: Mapped[dict | None] = mapped_column(JSON, default=None)  # None: no comment asked
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SurveyRequest(Base):
    """One survey for one conversation (never two: ``conversation_id`` is unique). The score
    and the links to the answer's and the comment's messages (the words stay in the messages,
    so erasing the customer erases them)."""

    __tablename__ = "survey_requests"
    __table_args__ = (
        Index("ix_survey_requests_open", "customer_id", "channel_id", "state"),
        Index("ix_survey_requests_customer_sent", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    team_id: Mapped[int | None] = mapped_column(BigId, default=None)
    operator_id: Mapped[int | None] = mapped_column(BigId, default=None)
    kind: Mapped[str] = mapped_column(String(8))
    origin: Mapped[str] = mapped_column(String(16), default="resolved")  # "resolved" | "automation"
    state: Mapped[str] = mapped_column(String(20), default=RequestState.scheduled.value)
    skip_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    prompt_message_id: Mapped[int | None] = mapped_column(BigId, default=None)
    score: Mapped[int | None] = mapped_column(Integer, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answer_message_id: Mapped[int | None] = mapped_column(BigId, default=None)
    comment_message_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
