from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.pii import Sealed, SealedJson
from okno.kit.time import utcnow


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    # The adapter's config model as JSON, sealed with the instance's secret keys.
    config_sealed: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "ok" or "needs_action" (the provider's reason in health_reason: a revoked token…)
    health: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    health_reason: Mapped[str | None] = mapped_column(Text, default=None)
    health_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # days message bodies and raw items of this channel are kept (None: OKNO_RETENTION_* apply)
    retention_days: Mapped[int | None] = mapped_column(default=None)


class InboundItem(Base):
    """The durable raw record of one inbound provider item; its unique key makes redelivery a no-op."""

    __tablename__ = "inbound_items"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_id"),
        # only the claim query searches by status (for pending rows); inline-processed rows are born done
        Index("ix_inbound_items_pending", "status", "id", sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(String(255))
    # The adapter's normalised item (okno.channels.base.InboundMessage as JSON) and the raw body.
    # Both sealed at rest (okno.kit.pii): they carry the sender's phone, e-mail, name and text.
    item: Mapped[dict] = mapped_column(SealedJson)
    raw: Mapped[str] = mapped_column(Sealed, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # when ``raw`` and ``item`` were emptied (an erase or the retention job)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DeliveryJob(Base):
    """One outbound message to hand to a provider, retried until sent or finally failed."""

    __tablename__ = "delivery_jobs"
    __table_args__ = (Index("ix_delivery_jobs_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # Sent to the provider on every attempt, so a retry of a delivery that did land is a no-op there.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChannelPollState(Base):
    """The durable cursor of a polling channel (IMAP UIDVALIDITY + UID, a review platform's last
    timestamp…) and the health of its polls; the cursor moves only after what it covers is stored."""

    __tablename__ = "channel_poll_state"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    cursor: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
