from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, UTCDateTime
from okno.kit.time import utcnow


class ConversationChannel(Base):
    """A channel a conversation used besides the one it began in (``conversations.channel_id``).

    A customer who opened a conversation in Telegram and now writes in WhatsApp belongs in the
    WhatsApp queue too: the inbox's channel filter reads ``channel_id`` or a row here, both by
    index. Rows are written only when a message arrives or leaves through another channel, so
    the common case (one channel per conversation) costs the hot path nothing.
    """

    __tablename__ = "conversation_channels"
    __table_args__ = (Index("ix_conversation_channels_channel", "channel_id", "conversation_id"),)

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
