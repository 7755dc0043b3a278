"""All ORM models; importing this package registers every table on ``Base.metadata``."""

from okno.kit.db import Base
from okno.models.automation import AutomationRule
from okno.models.canned import CannedAnswer
from okno.models.catalog import ACTIVE_TYPES, FINISHED_TYPES, UNFINISHED_TYPES, ClosingReason, StatusDefinition, StatusType
from okno.models.channels import Channel, ChannelPollState, DeliveryJob, InboundItem
from okno.models.conversations import (
    UNFINISHED_STATUSES,
    ActorType,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Priority,
)
from okno.models.customers import Customer, Identity, TimelineEvent
from okno.models.matching import IdentityRule, MatchBlock, MatcherSettings, MatchProfile, MatchSuggestion, MatchTerm
from okno.models.merges import ConflictStatus, CustomerMerge, IdentityConflict
from okno.models.operators import DEFAULT_CAPACITY, AccessToken, AssignmentStrategy, Operator, OperatorKind, Presence, Role, Team, team_members
from okno.models.platform import AuditEntry, EventDelivery, Job, OutboxEvent, StoredFile
from okno.models.routing import RoutingRule
from okno.models.sla import OPEN_TARGET_STATES, BusinessHours, Metric, SlaPolicy, SlaTarget, TargetState
from okno.models.timers import Timer
from okno.models.webhook_calls import WebhookCall
from okno.models.widget import VisitorEvent
from okno.models.accounts import ApiToken, LoginFailure
from okno.models.verification import IdentityVerification
from okno.models.conversation_channels import ConversationChannel
from okno.models.reports import ReportConversation, ReportConversationChannel, ReportResponse, ReportSeenEvent, ReportSurvey
from okno.models.reports import ReportRebuild, ReportRollup, ReportRollupChannels, ReportRollupDurations, ReportRollupSurveys
from okno.models.surveys import Survey, SurveyRequest
from okno.models.widget import RateCounter
from okno.models.inbox_state import ConversationRead, SavedView

__all__ = [
    "ACTIVE_TYPES",
    "OPEN_TARGET_STATES",
    "DEFAULT_CAPACITY",
    "FINISHED_TYPES",
    "UNFINISHED_TYPES",
    "UNFINISHED_STATUSES",
    "AccessToken",
    "ActorType",
    "AssignmentStrategy",
    "AuditEntry",
    "AutomationRule",
    "BusinessHours",
    "CannedAnswer",
    "Channel",
    "ChannelPollState",
    "ClosingReason",
    "ConflictStatus",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "CustomerMerge",
    "DeliveryJob",
    "Direction",
    "EventDelivery",
    "Identity",
    "IdentityConflict",
    "IdentityRule",
    "InboundItem",
    "Job",
    "MatchBlock",
    "MatchProfile",
    "MatchSuggestion",
    "MatchTerm",
    "MatcherSettings",
    "Message",
    "MessageKind",
    "Metric",
    "MessageStatus",
    "Operator",
    "OutboxEvent",
    "Presence",
    "Priority",
    "Role",
    "RoutingRule",
    "SlaPolicy",
    "SlaTarget",
    "StatusDefinition",
    "StatusType",
    "StoredFile",
    "TargetState",
    "Team",
    "TimelineEvent",
    "Timer",
    "VisitorEvent",
    "WebhookCall",
    "team_members",
    "ApiToken",
    "LoginFailure",
    "OperatorKind",
    "IdentityVerification",
    "ConversationChannel",
    "ReportConversation",
    "ReportConversationChannel",
    "ReportResponse",
    "ReportSeenEvent",
    "ReportSurvey",
    "Survey",
    "SurveyRequest",
    "RateCounter",
    "ReportRebuild",
    "ReportRollup",
    "ReportRollupChannels",
    "ReportRollupDurations",
    "ReportRollupSurveys",
    "ConversationRead",
    "SavedView",
]

# Ids are never reused on SQLite either (a deleted customer's id must not pass to someone else).
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True
