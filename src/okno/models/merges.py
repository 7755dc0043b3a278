"""Merges of two customer profiles (reversible, audited) and proven keys claimed by two customers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import Sealed, SealedJson, keep_index_in_step, value_index_default
from okno.kit.time import utcnow


class CustomerMerge(Base):
    """One merge of ``merged_id`` into ``survivor_id``; ``moved`` lists exactly which rows moved,
    so that an undo can put back those rows and nothing else."""

    __tablename__ = "customer_merges"
    __table_args__ = (
        Index("ix_customer_merges_survivor", "survivor_id", "id"),
        Index("ix_customer_merges_merged", "merged_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # how it came about: "operator", "conflict", "auto" (matcher above the auto threshold), "import"
    origin: Mapped[str] = mapped_column(String(16), default="operator")
    score: Mapped[float | None] = mapped_column(default=None)
    moved: Mapped[dict] = mapped_column(SealedJson, default=dict)  # sealed: moved attributes and keys
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    undo_reason: Mapped[str | None] = mapped_column(Text, default=None)


class ConflictStatus(enum.StrEnum):
    open = "open"
    merged = "merged"  # the two profiles were merged
    kept_apart = "kept_apart"  # two different people share the key; each keeps its profile
    moved = "moved"  # the key was given to the customer who claimed it


class IdentityConflict(Base):
    """A proven key owned by ``owner_id`` was also presented by the sender attached to
    ``claimant_id``. Never resolved silently: an operator merges, moves the key or keeps them apart."""

    __tablename__ = "identity_conflicts"
    __table_args__ = (
        UniqueConstraint("kind", "value_index", "owner_id", "claimant_id"),
        Index("ix_identity_conflicts_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Sealed)  # sealed; found through value_index (okno.kit.pii)
    value_index: Mapped[bytes] = mapped_column(LargeBinary(16), default=value_index_default)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    claimant_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ConflictStatus.open.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    merge_id: Mapped[int | None] = mapped_column(ForeignKey("customer_merges.id", ondelete="SET NULL"), default=None)


keep_index_in_step(IdentityConflict)
