"""All ORM models; importing this package registers every table on ``Base.metadata``."""

from okno.kit.db import Base
from okno.models.channels import Channel, DeliveryJob, InboundItem
from okno.models.conversations import (
    UNFINISHED_STATUSES,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    Priority,
)
from okno.models.customers import Customer, Identity, TimelineEvent
from okno.models.operators import AccessToken, Operator, Role, Team, team_members
from okno.models.platform import AuditEntry, OutboxEvent
from okno.models.widget import VisitorEvent

__all__ = [
    "UNFINISHED_STATUSES",
    "AccessToken",
    "AuditEntry",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "DeliveryJob",
    "Direction",
    "Identity",
    "InboundItem",
    "Message",
    "MessageStatus",
    "Operator",
    "OutboxEvent",
    "Priority",
    "Role",
    "Team",
    "TimelineEvent",
    "VisitorEvent",
    "team_members",
]

# Ids are never reused on SQLite either (a deleted customer's id must not pass to someone else).
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True
