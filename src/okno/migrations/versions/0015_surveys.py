"""surveys: CSAT, NPS and CES surveys and the survey sent for each conversation

Revision ID: 0015_surveys
Revises: 0014_reports
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0015_surveys'
down_revision = '0014_reports'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('surveys',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('team_ids', sa.JSON(), nullable=False),
    sa.Column('channel_ids', sa.JSON(), nullable=False),
    sa.Column('question', sa.JSON(), nullable=False),
    sa.Column('follow_up', sa.JSON(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sqlite_autoincrement=True,
    )
    op.create_table('survey_requests',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('survey_id', BIG_ID, nullable=False),
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('customer_id', BIG_ID, nullable=False),
    sa.Column('channel_id', BIG_ID, nullable=True),
    sa.Column('team_id', BIG_ID, nullable=True),
    sa.Column('operator_id', BIG_ID, nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('skip_reason', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('due_at', WHEN, nullable=False),
    sa.Column('sent_at', WHEN, nullable=True),
    sa.Column('prompt_message_id', BIG_ID, nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('answered_at', WHEN, nullable=True),
    sa.Column('answer_message_id', BIG_ID, nullable=True),
    sa.Column('comment_message_id', BIG_ID, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_survey_requests_channel_id_channels'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_survey_requests_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_survey_requests_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_requests_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_requests')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_survey_requests_conversation_id')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_survey_requests_open', 'survey_requests', ['customer_id', 'channel_id', 'state'], unique=False)
    op.create_index('ix_survey_requests_customer_sent', 'survey_requests', ['customer_id', 'sent_at'], unique=False)
    op.create_index(op.f('ix_survey_requests_survey_id'), 'survey_requests', ['survey_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_survey_requests_survey_id'), table_name='survey_requests')
    op.drop_index('ix_survey_requests_customer_sent', table_name='survey_requests')
    op.drop_index('ix_survey_requests_open', table_name='survey_requests')
    op.drop_table('survey_requests')
    op.drop_table('surveys')
