from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.time import utcnow


class ConversationRead(Base):
    """How far one operator has read one conversation: the id of the latest message he was shown.

    The inbox marks a conversation unread for him while it has customer messages above that id
    (``okno.conversations.unread``). One row per (operator, conversation) he ever opened; the
    count is read by the ``ix_messages_conversation`` index, so the list pays one grouped query
    per page.
    """

    __tablename__ = "conversation_reads"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    last_read_message_id: Mapped[int] = mapped_column(BigInteger, default=0)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedView(Base):
    """A named inbox filter an operator saved (``query``: the list's query string), shown in his
    queues strip; with ``team_id`` every member of that team sees it too."""

    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_operator", "operator_id"), Index("ix_saved_views_team", "team_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), default=None)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
