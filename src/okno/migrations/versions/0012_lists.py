"""complete lists: the channels a conversation used, and indexes for paging the inbox's queues

Revision ID: 0012_lists
Revises: 0011_widgetproof
Create Date: 2026-12-06 11:00:00

``conversation_channels`` lists the channels a conversation used besides the one it began in;
it is filled from the messages already stored. The inbox pages its queues by keyset (the sort
columns and the id); the indexes let the unfinished rows of a queue be found without reading
the finished ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0012_lists'
down_revision = '0011_widgetproof'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('conversation_channels',
    sa.Column('conversation_id', BIG_ID, nullable=False),
    sa.Column('channel_id', BIG_ID, nullable=False),
    sa.Column('first_used_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_conversation_channels_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_channels_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'channel_id', name=op.f('pk_conversation_channels'))
    )
    op.create_index('ix_conversation_channels_channel', 'conversation_channels', ['channel_id', 'conversation_id'], unique=False)
    op.execute(
        "INSERT INTO conversation_channels (conversation_id, channel_id, first_used_at) "
        "SELECT m.conversation_id, m.channel_id, MIN(m.created_at) FROM messages m "
        "JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.channel_id IS NOT NULL AND (c.channel_id IS NULL OR m.channel_id <> c.channel_id) "
        "GROUP BY m.conversation_id, m.channel_id"
    )
    op.create_index('ix_conversations_status_inbound', 'conversations', ['status', 'last_inbound_at', 'id'], unique=False)
    op.create_index('ix_conversations_team_status', 'conversations', ['team_id', 'status'], unique=False)
    # "latest activity first" (``last_message_at DESC NULLS LAST, id DESC``) read in index order:
    # SQLite puts NULLs last in a descending index by itself and refuses the words; PostgreSQL
    # needs them. Created here only (the model's metadata can't say it for both).
    nulls_last = ' NULLS LAST' if op.get_bind().dialect.name == 'postgresql' else ''
    op.execute(f'CREATE INDEX ix_conversations_status_recent ON conversations (status, last_message_at DESC{nulls_last}, id DESC)')


def downgrade() -> None:
    op.drop_index('ix_conversations_status_recent', table_name='conversations')
    op.drop_index('ix_conversations_team_status', table_name='conversations')
    op.drop_index('ix_conversations_status_inbound', table_name='conversations')
    op.drop_index('ix_conversation_channels_channel', table_name='conversation_channels')
    op.drop_table('conversation_channels')
