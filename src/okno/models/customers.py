from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import PartlySealedJson, Sealed, SealedJson, keep_index_in_step, value_index_default
from okno.kit.time import utcnow

# Attributes whose values are sealed inside the otherwise readable document (routing and the
# inbox filter on the others, e.g. ``vip``): what the matcher compares that identifies a person,
# the keys kept as evidence, and every value a CRM import kept beside the chosen one.
SEALED_ATTRIBUTES = ("birth_date", "id_number", "address", "postcode", "unverified_identities", "_alternatives")


class Customer(Base):
    """The unified profile; ``id`` is the one customer ID every channel maps to."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    attributes: Mapped[dict] = mapped_column(PartlySealedJson(SEALED_ATTRIBUTES), default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set while this profile is merged away: its id keeps resolving to the survivor (undo clears it).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None, index=True
    )
    # Set when the person's data was erased (okno.customers.erasure): the row stays as an
    # anonymous tombstone so reports still count its conversations.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Identity(Base):
    """A normalised key (``kind`` + ``value``) that points at exactly one customer.

    ``value`` is sealed at rest; ``value_index`` is its blind index (``okno.kit.pii``), the only
    way to find a row by value (``okno.customers.identity_lookup``)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Sealed)
    value_index: Mapped[bytes] = mapped_column(LargeBinary(16), default=value_index_default)
    source_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


keep_index_in_step(Identity)


class TimelineEvent(Base):
    """Every touch of a customer, in order: messages, status changes, conflicts, calls…"""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_customer", "customer_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    actor_type: Mapped[str | None] = mapped_column(String(16), default=None)  # okno.models.ActorType
    actor_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(SealedJson, default=dict)  # may name keys, attribute values
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
