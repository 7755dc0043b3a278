"""Routing rules as data: ordered conditions → actions, evaluated on new conversations and events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.time import utcnow


class RoutingRule(Base):
    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[list] = mapped_column(JsonDoc, default=lambda: ["conversation.opened"])
    conditions: Mapped[list] = mapped_column(JsonDoc, default=list)  # all must hold: [{"field", "op", "value"}]
    actions: Mapped[dict] = mapped_column(JsonDoc, default=dict)  # {"team_id", "priority", "tags", "sla_policy_id", "skills"}
    stop: Mapped[bool] = mapped_column(Boolean, default=True)  # a matching rule ends the evaluation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
