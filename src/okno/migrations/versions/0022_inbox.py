"""operators' read positions and saved inbox views

Revision ID: 0022_inbox
Revises: 0017_telephony
Create Date: 2026-12-06 17:00:00

``conversation_reads``: per operator and conversation, the latest message he was shown (the
inbox's unread markers). ``saved_views``: named inbox filters, an operator's own or shared with
a team.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0022_inbox'
down_revision = '0020_analytics'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'conversation_reads',
        sa.Column('operator_id', _ID, nullable=False),
        sa.Column('conversation_id', _ID, nullable=False),
        sa.Column('last_read_message_id', sa.BigInteger(), nullable=False),
        sa.Column('read_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_reads_conversation_id_conversations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_conversation_reads_operator_id_operators'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('operator_id', 'conversation_id', name=op.f('pk_conversation_reads')),
    )
    op.create_table(
        'saved_views',
        sa.Column('id', _ID, nullable=False),
        sa.Column('operator_id', _ID, nullable=False),
        sa.Column('team_id', _ID, nullable=True),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('query', sa.String(length=1000), nullable=False),
        sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_saved_views_operator_id_operators'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_saved_views_team_id_teams'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_saved_views_operator', 'saved_views', ['operator_id'])
    op.create_index('ix_saved_views_team', 'saved_views', ['team_id'])


def downgrade() -> None:
    op.drop_index('ix_saved_views_team', table_name='saved_views')
    op.drop_index('ix_saved_views_operator', table_name='saved_views')
    op.drop_table('saved_views')
    op.drop_table('conversation_reads')
