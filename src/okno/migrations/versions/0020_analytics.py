"""report projection rebuilds; summary indexes for large installations

Revision ID: 0020_analytics
Revises: 0017_telephony
Create Date: 2026-12-06 17:00:00

``report_rebuilds`` records each run of ``okno reports rebuild`` (the range, the outbox id it
replays up to, its cursor) so a stopped run resumes. On PostgreSQL the period indexes of
``report_conversations`` become covering (``INCLUDE`` the figures the summary reads), so a
period's summary is an index-only scan instead of a heap visit per conversation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0020_analytics'
down_revision = '0019_email'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# the figures a period's summary reads beside the period column (as in models/reports.py, frozen here)
OPENED = ('conversation_id', 'frt_seconds', 'frt_business_seconds', 'sla_first_response', 'first_channel_kind', 'team_id', 'operator_id')
RESOLVED = ('resolution_seconds', 'resolution_business_seconds', 'reopened', 'transferred', 'repeat_contact_id', 'sla_resolution',
            'team_id', 'operator_id')
SURVEYS = ('score', 'sent_at', 'team_id', 'operator_id', 'channel_id')


def upgrade() -> None:
    op.create_table(
        'report_rebuilds',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('range_from', WHEN, nullable=True),
        sa.Column('range_to', WHEN, nullable=True),
        sa.Column('high_water', BIG_ID, nullable=False),
        sa.Column('cursor', BIG_ID, nullable=False),
        sa.Column('conversations', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('started_at', WHEN, nullable=False),
        sa.Column('finished_at', WHEN, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_rebuilds')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_report_rebuilds_unfinished', 'report_rebuilds', ['finished_at'])
    if op.get_bind().dialect.name == 'postgresql':  # SQLite has no INCLUDE: its indexes stay as they were
        for name, column, figures in (('ix_report_conversations_opened', 'opened_at', OPENED),
                                      ('ix_report_conversations_resolved', 'resolved_at', RESOLVED)):
            op.drop_index(name, table_name='report_conversations')
            op.create_index(name, 'report_conversations', [column], postgresql_include=list(figures))
        op.drop_index('ix_report_surveys_period', table_name='report_surveys')
        op.create_index('ix_report_surveys_period', 'report_surveys', ['period_at', 'kind'], postgresql_include=list(SURVEYS))
        op.create_index('ix_report_conversation_channels_kind', 'report_conversation_channels', ['conversation_id'], postgresql_include=['kind'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_report_conversation_channels_kind', table_name='report_conversation_channels')
        op.drop_index('ix_report_surveys_period', table_name='report_surveys')
        op.create_index('ix_report_surveys_period', 'report_surveys', ['period_at', 'kind'])
        for name, column in (('ix_report_conversations_opened', 'opened_at'), ('ix_report_conversations_resolved', 'resolved_at')):
            op.drop_index(name, table_name='report_conversations')
            op.create_index(name, 'report_conversations', [column])
    op.drop_index('ix_report_rebuilds_unfinished', table_name='report_rebuilds')
    op.drop_table('report_rebuilds')
