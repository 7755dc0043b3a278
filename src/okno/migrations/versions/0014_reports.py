"""analytics projections: per-conversation facts, the channels each used, responses, surveys

Revision ID: 0014_reports
Revises: 0013_tz
Create Date: 2026-12-06 14:00:00

The reports read these rows only; bus subscribers (``okno.reports.projection``) keep them up to
date from events. They start empty: conversations from before this revision are not projected.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db
import okno.kit.pii

revision = '0014_reports'
down_revision = '0013_tz'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('report_seen_events',
    sa.Column('event_id', BIG_ID, autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_report_seen_events')),
    )
    op.create_table('report_conversations',
    sa.Column('conversation_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('customer_id', BIG_ID, nullable=False),
    sa.Column('team_id', BIG_ID, nullable=True),
    sa.Column('operator_id', BIG_ID, nullable=True),
    sa.Column('first_channel_id', BIG_ID, nullable=True),
    sa.Column('first_channel_kind', sa.String(length=40), nullable=True),
    sa.Column('opened_at', WHEN, nullable=False),
    sa.Column('waiting_since', WHEN, nullable=True),
    sa.Column('responses', sa.Integer(), nullable=False),
    sa.Column('first_response_at', WHEN, nullable=True),
    sa.Column('first_responder_id', BIG_ID, nullable=True),
    sa.Column('frt_seconds', sa.Integer(), nullable=True),
    sa.Column('frt_business_seconds', sa.Integer(), nullable=True),
    sa.Column('open_since', WHEN, nullable=True),
    sa.Column('resolved_at', WHEN, nullable=True),
    sa.Column('resolution_seconds', sa.Integer(), nullable=False),
    sa.Column('resolution_business_seconds', sa.Integer(), nullable=False),
    sa.Column('resolutions', sa.Integer(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('transferred', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=True),
    sa.Column('repeat_contact_id', BIG_ID, nullable=True),
    sa.Column('sla_first_response', sa.String(length=16), nullable=True),
    sa.Column('sla_resolution', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_report_conversations_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_report_conversations')),
    )
    op.create_index('ix_report_conversations_opened', 'report_conversations', ['opened_at'], unique=False)
    op.create_index('ix_report_conversations_resolved', 'report_conversations', ['resolved_at'], unique=False)
    op.create_index('ix_report_conversations_customer_reason', 'report_conversations', ['customer_id', 'reason', 'opened_at'], unique=False)
    op.create_index('ix_report_conversations_team_resolved', 'report_conversations', ['team_id', 'resolved_at'], unique=False)
    op.create_index('ix_report_conversations_operator_resolved', 'report_conversations', ['operator_id', 'resolved_at'], unique=False)
    op.create_table('report_conversation_channels',
    sa.Column('conversation_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('channel_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_report_conversation_channels_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'channel_id', name=op.f('pk_report_conversation_channels')),
    )
    op.create_index('ix_report_conversation_channels_channel', 'report_conversation_channels', ['channel_id', 'conversation_id'], unique=False)
    op.create_table('report_responses',
    sa.Column('conversation_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('cycle', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('waiting_since', WHEN, nullable=False),
    sa.Column('responded_at', WHEN, nullable=False),
    sa.Column('operator_id', BIG_ID, nullable=True),
    sa.Column('team_id', BIG_ID, nullable=True),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.Column('business_seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_report_responses_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'cycle', name=op.f('pk_report_responses')),
    )
    op.create_index('ix_report_responses_responded', 'report_responses', ['responded_at'], unique=False)
    op.create_table('report_surveys',
    sa.Column('survey_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('conversation_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('customer_id', BIG_ID, nullable=False),
    sa.Column('channel_id', BIG_ID, nullable=True),
    sa.Column('team_id', BIG_ID, nullable=True),
    sa.Column('operator_id', BIG_ID, nullable=True),
    sa.Column('sent_at', WHEN, nullable=True),
    sa.Column('answered_at', WHEN, nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', okno.kit.pii.Sealed(), nullable=True),
    sa.Column('period_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('survey_id', 'conversation_id', name=op.f('pk_report_surveys')),
    )
    op.create_index('ix_report_surveys_period', 'report_surveys', ['period_at', 'kind'], unique=False)
    op.create_index('ix_report_surveys_conversation', 'report_surveys', ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('report_surveys')
    op.drop_table('report_responses')
    op.drop_table('report_conversation_channels')
    op.drop_table('report_conversations')
    op.drop_table('report_seen_events')
