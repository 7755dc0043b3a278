"""monthly report rollups kept by triggers, and the duration indexes of exact percentiles

Revision ID: 0027_report_rollups
Revises: 0026_inbox_live
Create Date: 2026-12-07 07:00:00

A summary over a long period read and sorted every fact row of it: a year at a million
conversations cost 1.5 s of PostgreSQL CPU in two percentile sorts. Three rollup tables now hold,
per channel used (0: every conversation; the ``channel_id`` filter), UTC month, period rule, team
and assignee, the additive figures, the channel-kind groups and a histogram of each duration, and
a fourth the survey answers per month, team, assignee, channel and kind
(``okno.reports.rollups``); triggers on ``report_conversations``, ``report_conversation_channels``
and ``report_surveys`` keep them in the same transaction as the rows, and they are filled here from those rows. One index per
duration column lets a percentile read only the bucket that holds its rank; with the channel
filter, one per duration on ``report_conversation_channels``, whose rows now carry a copy of their
fact's stamps, team, assignee and durations (kept by the same triggers).
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from okno.kit.db import UTCDateTime

revision = "0027_report_rollups"
down_revision = "0026_inbox_live"
branch_labels = None
depends_on = None

# the triggers and fill statements as ``okno.reports.rollups`` generated them when this revision
# was written, per dialect: a later change to that module must not change what this revision
# creates (a change to the rollups is a new revision replacing the triggers)
FROZEN = Path(__file__).resolve().parents[1] / "frozen" / "0027_report_rollups.json"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DURATIONS = (
    ("frt", "frt_seconds", "opened_at"),
    ("frt_business", "frt_business_seconds", "opened_at"),
    ("resolution", "resolution_seconds", "resolved_at"),
    ("resolution_business", "resolution_business_seconds", "resolved_at"),
)

# the fact columns each channel row carries a copy of (``rollups.COPIED_COLUMNS``)
COPIES = (
    ("opened_at", UTCDateTime(timezone=True)), ("resolved_at", UTCDateTime(timezone=True)), ("team_id", BigId), ("operator_id", BigId),
    *((name, sa.Integer()) for name in ("frt_seconds", "frt_business_seconds", "resolution_seconds", "resolution_business_seconds")),
)  # fmt: skip


def _key(*, channel: bool = True) -> list[sa.Column]:
    """The cells' key: the channel used (0: every conversation; the surveys have their own), the
    month, team and assignee."""
    return [
        *([sa.Column("channel_id", BigId, primary_key=True, autoincrement=False)] if channel else []),
        sa.Column("month", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("team_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("operator_id", BigId, primary_key=True, autoincrement=False),
    ]


def _frozen() -> dict[str, list[str]]:
    return json.loads(FROZEN.read_text(encoding="utf-8"))[op.get_bind().dialect.name]


def upgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("rule", sa.Integer(), primary_key=True, autoincrement=False),
        *_key(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("conversations", "measured")),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("wall_seconds", "business_seconds")),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("sla_met", "sla_missed", "fcr", "repeats")),
    )
    op.create_table(
        "report_rollup_channels",
        *_key(),
        sa.Column("first_channel_kind", sa.String(length=40), primary_key=True),
        sa.Column("channel_kinds", sa.String(length=400), primary_key=True),
        sa.Column("conversations", sa.Integer(), nullable=False),
    )
    op.create_table(
        "report_rollup_durations",
        sa.Column("measure", sa.Integer(), primary_key=True, autoincrement=False),
        *_key(),
        sa.Column("bucket", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "report_rollup_surveys",
        *_key(channel=False),
        sa.Column("channel_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(length=8), primary_key=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("responses", "satisfied", "promoters", "detractors")),
        sa.Column("score_total", sa.BigInteger(), nullable=False),
    )
    for name, column, stamp in DURATIONS:
        op.create_index(
            f"ix_report_conversations_{name}",
            "report_conversations",
            [column, stamp],
            postgresql_include=["team_id", "operator_id"],
        )
    with op.batch_alter_table("report_conversation_channels") as table:
        for name, kind in COPIES:
            table.add_column(sa.Column(name, kind, nullable=True))
    for stamp in ("opened", "resolved"):
        op.create_index(
            f"ix_report_conversation_channels_{stamp}",
            "report_conversation_channels",
            ["channel_id", f"{stamp}_at"],
            postgresql_include=["conversation_id"],
        )
    for name, column, stamp in DURATIONS:
        op.create_index(
            f"ix_report_conversation_channels_{name}",
            "report_conversation_channels",
            ["channel_id", column, stamp],
            postgresql_include=["team_id", "operator_id"],
        )
    frozen = _frozen()
    for statement in [*frozen["create_triggers"], *frozen["fill"]]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _frozen()["drop_triggers"]:
        op.execute(statement)
    for name, _column, _stamp in DURATIONS:
        op.drop_index(f"ix_report_conversations_{name}", table_name="report_conversations")
        op.drop_index(f"ix_report_conversation_channels_{name}", table_name="report_conversation_channels")
    for stamp in ("opened", "resolved"):
        op.drop_index(f"ix_report_conversation_channels_{stamp}", table_name="report_conversation_channels")
    with op.batch_alter_table("report_conversation_channels") as table:
        for name, _kind in COPIES:
            table.drop_column(name)
    for table in ("report_rollup_surveys", "report_rollup_durations", "report_rollup_channels", "report_rollups"):
        op.drop_table(table)
