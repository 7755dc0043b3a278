"""Analytics projections: rows the reports read, kept up to date by bus subscribers
(``okno.reports.projection``), never recomputed from messages per request.

One fact row per conversation (``report_conversations``) holds what every figure needs: when it
opened, its first-touch channel, team and operator, first response, the open periods it had
(resolution time adds each period, wall-clock and business seconds on the team's calendar),
reason, reopenings, transfers, the repeat contact that followed it, SLA results. Responses (first
and next) and survey answers are rows of their own; ``report_seen_events`` makes every handler
idempotent by event id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from okno.kit.db import Base, BigId, UTCDateTime
from okno.kit.pii import Sealed


class ReportSeenEvent(Base):
    """An outbox event the projection already applied (delivery is at least once)."""

    __tablename__ = "report_seen_events"

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


OPENED_FIGURES = (
    "conversation_id", "frt_seconds", "frt_business_seconds", "sla_first_response", "first_channel_kind", "team_id",
    "operator_id", "channel_kinds", "first_responder_id",
)
RESOLVED_FIGURES = (
    "resolution_seconds", "resolution_business_seconds", "reopened", "transferred", "repeat_contact_id", "sla_resolution", "team_id", "operator_id",
)


class ReportConversation(Base):
    __tablename__ = "report_conversations"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(BigId)
    team_id: Mapped[int | None] = mapped_column(BigId, default=None)
    operator_id: Mapped[int | None] = mapped_column(BigId, default=None)  # the assignee (at resolution, once resolved)
    first_channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    first_channel_kind: Mapped[str | None] = mapped_column(String(40), default=None)
    # the kinds of every channel it used (the first one too), sorted, comma-separated: channel share
    # is a count per distinct set over the period's index (migration 0024), not a join per channel row
    channel_kinds: Mapped[str | None] = mapped_column(String(400), default=None)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # a customer message waits for a human
    responses: Mapped[int] = mapped_column(Integer, default=0)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_responder_id: Mapped[int | None] = mapped_column(BigId, default=None)
    frt_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    frt_business_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    open_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # None while resolved
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # the latest resolution
    resolution_seconds: Mapped[int] = mapped_column(Integer, default=0)  # closed periods, summed
    resolution_business_seconds: Mapped[int] = mapped_column(Integer, default=0)
    resolutions: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)  # to another team, or escalated, after the first human answer
    reason: Mapped[str | None] = mapped_column(String(100), default=None)
    repeat_contact_id: Mapped[int | None] = mapped_column(BigId, default=None)  # the conversation that repeated this one
    sla_first_response: Mapped[str | None] = mapped_column(String(16), default=None)  # met | missed
    sla_resolution: Mapped[str | None] = mapped_column(String(16), default=None)

    __table_args__ = (
        # PostgreSQL: covering, so a period's summary is an index-only scan (migration 0018)
        Index("ix_report_conversations_opened", "opened_at", postgresql_include=list(OPENED_FIGURES)),
        Index("ix_report_conversations_resolved", "resolved_at", postgresql_include=list(RESOLVED_FIGURES)),
        Index("ix_report_conversations_customer_reason", "customer_id", "reason", "opened_at"),
        Index("ix_report_conversations_team_resolved", "team_id", "resolved_at"),
        Index("ix_report_conversations_operator_resolved", "operator_id", "resolved_at"),
        # the operators report's load (open conversations per assignee, now): only the open ones (migration 0024)
        Index(
            "ix_report_conversations_open", "operator_id", postgresql_include=["team_id"],
            postgresql_where=text("open_since IS NOT NULL"), sqlite_where=text("open_since IS NOT NULL"),
        ),
        # a percentile's second step: one duration bucket's values of a period, in order (migration 0027)
        *(Index(f"ix_report_conversations_{name}", column, stamp, postgresql_include=["team_id", "operator_id"]) for name, column, stamp in (
            ("frt", "frt_seconds", "opened_at"), ("frt_business", "frt_business_seconds", "opened_at"),
            ("resolution", "resolution_seconds", "resolved_at"), ("resolution_business", "resolution_business_seconds", "resolved_at"),
        )),
    )


class ReportConversationChannel(Base):
    """Every channel a conversation used (the first one included), with its kind, and a copy of
    its fact row's period stamps, team, assignee and durations (``rollups.COPIED_COLUMNS``, kept
    by the rollups' triggers, migration 0027): with the ``channel_id`` filter a percentile reads
    one duration bucket of one channel from an index here instead of every channel's."""

    __tablename__ = "report_conversation_channels"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    team_id: Mapped[int | None] = mapped_column(BigId, default=None)
    operator_id: Mapped[int | None] = mapped_column(BigId, default=None)
    frt_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    frt_business_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    resolution_business_seconds: Mapped[int | None] = mapped_column(Integer, default=None)

    __table_args__ = (
        Index("ix_report_conversation_channels_channel", "channel_id", "conversation_id"),
        # PostgreSQL: channel share reads (conversation, kind) from the index alone (migration 0018)
        Index("ix_report_conversation_channels_kind", "conversation_id", postgresql_include=["kind"]),
        # the channel filter on a period's facts: the channel's rows of the period only (migration 0027)
        Index("ix_report_conversation_channels_opened", "channel_id", "opened_at", postgresql_include=["conversation_id"]),
        Index("ix_report_conversation_channels_resolved", "channel_id", "resolved_at", postgresql_include=["conversation_id"]),
        # a percentile's second step with the channel filter: one channel's bucket of a period, in order (migration 0027)
        *(Index(f"ix_report_conversation_channels_{name}", "channel_id", column, stamp, postgresql_include=["team_id", "operator_id"])
          for name, column, stamp in (
            ("frt", "frt_seconds", "opened_at"), ("frt_business", "frt_business_seconds", "opened_at"),
            ("resolution", "resolution_seconds", "resolved_at"), ("resolution_business", "resolution_business_seconds", "resolved_at"),
        )),
    )  # fmt: skip


class ReportResponse(Base):
    """One answered wait: cycle 1 is the first response, the others next responses."""

    __tablename__ = "report_responses"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    operator_id: Mapped[int | None] = mapped_column(BigId, default=None)
    team_id: Mapped[int | None] = mapped_column(BigId, default=None)
    seconds: Mapped[int] = mapped_column(Integer)
    business_seconds: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_report_responses_responded", "responded_at"),)


class ReportSurvey(Base):
    """A survey sent, and its answer once given (from ``survey.sent`` / ``survey.answered``)."""

    __tablename__ = "report_surveys"

    survey_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)  # the survey (its settings)
    conversation_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)  # one per conversation
    kind: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int] = mapped_column(BigId)
    channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    team_id: Mapped[int | None] = mapped_column(BigId, default=None)
    operator_id: Mapped[int | None] = mapped_column(BigId, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    score: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str | None] = mapped_column(Sealed, default=None)  # the customer's words: sealed at rest
    # the period it counts in: its conversation's resolution (when the projection knew it), else when sent/answered
    period_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # PostgreSQL: covering (migration 0018), the survey scores are an index-only scan
        Index("ix_report_surveys_period", "period_at", "kind", postgresql_include=["score", "sent_at", "team_id", "operator_id", "channel_id"]),
        Index("ix_report_surveys_conversation", "conversation_id"),
    )


class ReportRollup(Base):
    """The additive figures of a month's facts per period rule, channel used (0: all), team and
    assignee (0: none), kept by triggers on ``report_conversations`` and
    ``report_conversation_channels`` (``okno.reports.rollups``, migration 0027)."""

    __tablename__ = "report_rollups"

    rule: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0 opened, 1 resolved
    # 0: every conversation (no channel filter); else the conversations that used that channel
    channel_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # months since year 0, UTC
    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    operator_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    measured: Mapped[int] = mapped_column(Integer, default=0)  # with a first response (opened); resolved (resolved)
    wall_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    business_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    sla_missed: Mapped[int] = mapped_column(Integer, default=0)
    fcr: Mapped[int] = mapped_column(Integer, default=0)
    repeats: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollupChannels(Base):
    """A month's openings per channel used (0: all), team, assignee, first-touch kind and set of
    kinds used ('' for none)."""

    __tablename__ = "report_rollup_channels"

    # 0: every conversation (no channel filter); else the conversations that used that channel
    channel_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    operator_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    first_channel_kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel_kinds: Mapped[str] = mapped_column(String(400), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollupDurations(Base):
    """A month's histogram of one duration measure (0 FRT, 1 FRT business, 2 resolution, 3
    resolution business) per channel used (0: all), team and assignee: how many values fall in
    each bucket."""

    __tablename__ = "report_rollup_durations"

    measure: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # 0: every conversation (no channel filter); else the conversations that used that channel
    channel_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    operator_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollupSurveys(Base):
    """A month's survey answers (by ``period_at``) per team, assignee, channel (0: none) and kind."""

    __tablename__ = "report_rollup_surveys"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    operator_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)  # scores 4 and above (CSAT)
    promoters: Mapped[int] = mapped_column(Integer, default=0)  # 9 and above (NPS)
    detractors: Mapped[int] = mapped_column(Integer, default=0)  # 6 and below (NPS)
    score_total: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportRebuild(Base):
    """A run of ``okno reports rebuild`` (``okno.reports.rebuild``): the conversations it rebuilds
    (opened in ``[range_from, range_to)``, or all), the outbox id it replays up to first
    (``high_water``, the newest event when it started) and how far it got (``cursor``), so a run
    that stopped resumes where it was. While one is unfinished the live projection holds its events
    back for it."""

    __tablename__ = "report_rebuilds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    range_from: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    range_to: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    high_water: Mapped[int] = mapped_column(BigId, default=0)
    cursor: Mapped[int] = mapped_column(BigId, default=0)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)  # applied so far
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (Index("ix_report_rebuilds_unfinished", "finished_at"),)
