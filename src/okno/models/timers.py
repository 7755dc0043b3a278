"""Durable timers: one row per (kind, ref_id), fired once by the timer worker, surviving restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime


class Timer(Base):
    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("kind", "ref_id"), Index("ix_timers_due", "fired_at", "due_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "sla.breach", "sla.warning", …: picks the handler
    ref_id: Mapped[int] = mapped_column(BigId)  # what the timer is about (its handler knows the table)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
