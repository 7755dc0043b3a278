from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.time import utcnow


class Role(enum.StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    operator = "operator"


team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
)


class OperatorKind(enum.StrEnum):
    person = "person"  # logs in with a password, is routed conversations
    integration = "integration"  # the hidden holder of one API token: never logs in, never routed


class Presence(enum.StrEnum):
    online = "online"
    away = "away"
    offline = "offline"


# concurrent conversations per channel medium when an admin has not said otherwise
DEFAULT_CAPACITY = {"chat": 5, "email": 10, "call": 1}


class AssignmentStrategy(enum.StrEnum):
    manual = "manual"  # operators take conversations from the queue themselves
    round_robin = "round_robin"
    least_loaded = "least_loaded"  # the most free capacity in the conversation's medium
    skills = "skills"  # only operators with every required skill; the best match, then the least loaded


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the service process: how the queue is assigned, which hours and SLA apply, where escalations go
    assignment_strategy: Mapped[str] = mapped_column(String(20), default=AssignmentStrategy.manual.value)
    sticky: Mapped[bool] = mapped_column(Boolean, default=True)  # the customer's last operator first
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id", ondelete="SET NULL"), default=None)
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"), default=None)
    escalation_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    last_assigned_operator_id: Mapped[int | None] = mapped_column(BigId, default=None)  # the round-robin cursor
    signature: Mapped[str | None] = mapped_column(Text, default=None)  # appended to e-mails after the author's own


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.operator.value)
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)  # IANA name; None: OKNO_DEFAULT_TIME_ZONE
    theme: Mapped[str | None] = mapped_column(String(8), default=None)  # the UI's colours: "light", "dark"; None: the device's
    signature: Mapped[str | None] = mapped_column(Text, default=None)  # appended to the e-mails he writes
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # routing attributes: only online operators get conversations; VIPs go to experienced ones
    presence: Mapped[str] = mapped_column(String(16), default=Presence.offline.value)
    presence_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    experienced: Mapped[bool] = mapped_column(Boolean, default=False)
    skills: Mapped[list] = mapped_column(JsonDoc, default=list)
    capacity: Mapped[dict] = mapped_column(JsonDoc, default=lambda: dict(DEFAULT_CAPACITY))
    kind: Mapped[str] = mapped_column(String(16), default=OperatorKind.person.value, server_default=OperatorKind.person.value)
    # his internal number on the office telephone exchange ("100"): a call event's ``internal``
    extension: Mapped[str | None] = mapped_column(String(16), default=None, index=True, unique=True)


class AccessToken(Base):
    """Opaque bearer tokens; only their SHA-256 is stored, so a database leak reveals none."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
