"""report facts carry the set of channel kinds a conversation used

Revision ID: 0024_analytics
Revises: 0023_admin
Create Date: 2026-12-06 20:30:00

``report_conversations.channel_kinds``: the kinds of every channel the conversation used, sorted
and comma-separated, filled here from ``report_conversation_channels`` and kept by the projection
from now on. Channel share becomes a count per distinct set over the period's openings instead of
a join of the period's conversations with every channel row; on PostgreSQL the openings' covering
index includes the new column (and the first responder, for the operators report), so it stays an
index-only scan. ``ix_report_conversations_open`` (partial: open conversations only) serves the
operators report's load, which counted open conversations by reading every fact row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024_analytics'
down_revision = '0023_admin'
branch_labels = None
depends_on = None

# the figures a period's summary reads beside opened_at (as in models/reports.py, frozen here)
OPENED = (
    'conversation_id', 'frt_seconds', 'frt_business_seconds', 'sla_first_response', 'first_channel_kind', 'team_id',
    'operator_id',
)


def upgrade() -> None:
    op.add_column('report_conversations', sa.Column('channel_kinds', sa.String(length=400), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE report_conversations AS f SET channel_kinds = used.kinds"
            " FROM (SELECT conversation_id, string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds"
            "       FROM report_conversation_channels GROUP BY conversation_id) AS used"
            " WHERE used.conversation_id = f.conversation_id"
        )
        op.drop_index('ix_report_conversations_opened', table_name='report_conversations')
        figures = [*OPENED, 'channel_kinds', 'first_responder_id']
        op.create_index('ix_report_conversations_opened', 'report_conversations', ['opened_at'], postgresql_include=figures)
    else:  # SQLite: the set in any order (readers split it); group_concat takes DISTINCT with one argument only
        op.execute(
            "UPDATE report_conversations SET channel_kinds = (SELECT group_concat(DISTINCT kind)"
            " FROM report_conversation_channels AS used WHERE used.conversation_id = report_conversations.conversation_id)"
        )
    op.create_index(
        'ix_report_conversations_open', 'report_conversations', ['operator_id'], postgresql_include=['team_id'],
        postgresql_where=sa.text('open_since IS NOT NULL'), sqlite_where=sa.text('open_since IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_report_conversations_open', table_name='report_conversations')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_report_conversations_opened', table_name='report_conversations')
        op.create_index('ix_report_conversations_opened', 'report_conversations', ['opened_at'], postgresql_include=list(OPENED))
    with op.batch_alter_table('report_conversations') as batch_op:
        batch_op.drop_column('channel_kinds')
