"""One-time codes that turn a claimed key (a phone typed into the website chat) into proof."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import Sealed, value_index_default
from okno.kit.time import utcnow


class IdentityVerification(Base):
    """A code sent to prove ``kind:value`` for the sender ``requester_kind:requester_value`` of
    ``channel_id`` (a widget visitor). Only a keyed hash of the code is kept (``code_hash``:
    HMAC-SHA256 of ``salt`` and the code). ``owner_id`` is who owned the key when the code was
    sent; ``via_channel_id`` the channel that delivered it (None: nothing could deliver it, the
    requester is told the same either way). ``status``: pending, verified, locked (too many
    wrong codes), superseded (a newer code was asked for). The claimed value is sealed at rest
    and found through its blind index ``value_index`` (``okno.kit.pii``)."""

    __tablename__ = "identity_verifications"
    __table_args__ = (
        Index("ix_identity_verifications_requester", "channel_id", "requester_value", "created_at"),
        Index("ix_identity_verifications_key", "kind", "value_index", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    requester_kind: Mapped[str] = mapped_column(String(32))
    requester_value: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Sealed)  # the claimed phone or e-mail, sealed at rest
    value_index: Mapped[bytes] = mapped_column(LargeBinary(16), default=value_index_default)  # its blind index
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), default=None)
    via_channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    merge_id: Mapped[int | None] = mapped_column(ForeignKey("customer_merges.id", ondelete="SET NULL"), default=None)
