"""The shared catalog of conversation statuses and closing reasons (one list for every team).

A status has a *type*; code asks about types ("is it unfinished", "does it pause SLA clocks"),
never about keys, so an admin's own statuses behave like the built-in ones of the same type.
"""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, JsonDoc


class StatusType(enum.StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    on_hold = "on_hold"  # pauses SLA clocks
    resolved = "resolved"
    closed = "closed"


UNFINISHED_TYPES = (StatusType.new, StatusType.open, StatusType.pending, StatusType.on_hold)
FINISHED_TYPES = (StatusType.resolved, StatusType.closed)
# being worked on by an operator: these count against capacity and wait in queues
ACTIVE_TYPES = (StatusType.new, StatusType.open)


class StatusDefinition(Base):
    __tablename__ = "conversation_statuses"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[dict] = mapped_column(JsonDoc)  # {"ru": ..., "en": ...}
    position: Mapped[int] = mapped_column(Integer, default=0)


class ClosingReason(Base):
    __tablename__ = "closing_reasons"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[dict] = mapped_column(JsonDoc)  # {"ru": ..., "en": ...}
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
