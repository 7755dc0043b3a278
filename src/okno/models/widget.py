from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import SealedJson
from okno.kit.time import utcnow


class VisitorEvent(Base):
    """One visitor's ordered stream on a website chat: what they sent and what reached them.

    ``seq`` numbers each visitor's stream from 1; a reconnecting widget asks for everything
    after the last ``seq`` it saw, so nothing is missed. ``client_id`` makes visitor sends
    idempotent.
    """

    __tablename__ = "visitor_events"
    __table_args__ = (
        UniqueConstraint("channel_id", "visitor_id", "seq"),
        UniqueConstraint("channel_id", "visitor_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # visitor | agent
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict] = mapped_column(SealedJson)  # sealed: texts, a typed phone or e-mail
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateCounter(Base):
    """Requests counted per key and per minute, shared by every okno process (the website chat's
    limits when several serve processes run: ``okno.channels.adapters.widget.limits``). ``key``
    is a keyed HMAC of what is limited (a visitor, an IP address), never the address itself;
    ``minute`` counts minutes since the epoch. Rows older than the previous minute are swept."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
