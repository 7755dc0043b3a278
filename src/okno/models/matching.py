"""What the matcher stores: deterministic mapping rules, comparison profiles, blocking keys,
term frequencies and the model's parameters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, JsonDoc, UTCDateTime
from okno.kit.pii import SealedJson
from okno.kit.time import utcnow


class IdentityRule(Base):
    """Whether a key of ``kind`` presented through ``source`` proves who the sender is.

    ``source`` is how the adapter learnt the key (``telegram.own_contact``, ``widget.typed``…);
    ``"*"`` is the rule for every source without its own row. A key that proves attaches the
    touch to its owner inside the ingest transaction; one that doesn't is kept on the profile as
    evidence for the matcher only."""

    __tablename__ = "identity_rules"
    __table_args__ = (UniqueConstraint("kind", "source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64), default="*")
    proves: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MatchProfile(Base):
    """A customer's comparison fields, normalised for the matcher (names transliterated to Latin)."""

    __tablename__ = "match_profiles"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    fields: Mapped[dict] = mapped_column(SealedJson, default=dict)  # phones, e-mails, birth date, id number…
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MatchBlock(Base):
    """Blocking keys: customers that share a key are candidates to compare. Stored blinded
    (``okno.customers.matching.fields.filed_keys``): a kind prefix and a keyed HMAC."""

    __tablename__ = "match_blocks"
    __table_args__ = (Index("ix_match_blocks_customer", "customer_id"),)

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)


class MatchTerm(Base):
    """How many profiles hold ``value`` in ``field`` (term-frequency adjustment), kept incrementally."""

    __tablename__ = "match_terms"

    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MatcherSettings(Base):
    """One row: estimated (EM) and overridden m/u parameters, thresholds."""

    __tablename__ = "matcher_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    params: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)


class MatchSuggestion(Base):
    """A pair the matcher scored above the review threshold, waiting for an operator."""

    __tablename__ = "match_suggestions"
    __table_args__ = (
        UniqueConstraint("customer_id", "other_customer_id"),
        Index("ix_match_suggestions_status", "status", "score"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    other_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column()
    contributions: Mapped[list] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, merged, dismissed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
