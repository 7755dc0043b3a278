"""the platform of the second wave: threads, richer messages, actors, channel health, poll
cursors, per-subscriber event delivery, durable jobs and stored files

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00

Every added column is nullable or has a server default, so ``ADD COLUMN`` works in place on
SQLite (no batch rebuild, which would cascade-delete rows that reference the table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON_DOC = okno.kit.db.JsonDoc
WHEN = okno.kit.db.UTCDateTime(timezone=True)

_COLUMNS = {
    'conversations': [sa.Column('thread_key', sa.String(length=255), nullable=True)],
    'messages': [
        sa.Column('kind', sa.String(length=16), server_default='message', nullable=False),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('content', JSON_DOC, nullable=True),
        sa.Column('actor_type', sa.String(length=16), nullable=True),
        sa.Column('actor_ref', sa.String(length=100), nullable=True),
    ],
    'timeline_events': [
        sa.Column('actor_type', sa.String(length=16), nullable=True),
        sa.Column('actor_ref', sa.String(length=100), nullable=True),
    ],
    'channels': [
        sa.Column('health', sa.String(length=16), server_default='ok', nullable=False),
        sa.Column('health_reason', sa.Text(), nullable=True),
        sa.Column('health_changed_at', WHEN, nullable=True),
    ],
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)
    op.create_index('ix_conversations_thread', 'conversations', ['channel_id', 'thread_key'], unique=False)

    op.create_table('channel_poll_state',
    sa.Column('channel_id', BIG_ID, nullable=False),
    sa.Column('cursor', JSON_DOC, nullable=False),
    sa.Column('next_poll_at', WHEN, nullable=False),
    sa.Column('locked_until', WHEN, nullable=True),
    sa.Column('last_polled_at', WHEN, nullable=True),
    sa.Column('last_success_at', WHEN, nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_poll_state_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_channel_poll_state')),
    sqlite_autoincrement=True
    )

    op.create_table('event_deliveries',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('event_id', BIG_ID, nullable=False),
    sa.Column('subscriber', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', WHEN, nullable=False),
    sa.Column('locked_until', WHEN, nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['outbox.id'], name=op.f('fk_event_deliveries_event_id_outbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_deliveries')),
    sa.UniqueConstraint('event_id', 'subscriber', name=op.f('uq_event_deliveries_event_id_subscriber')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_event_deliveries_due', 'event_deliveries', ['status', 'next_attempt_at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', JSON_DOC, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', WHEN, nullable=False),
    sa.Column('locked_until', WHEN, nullable=True),
    sa.Column('locked_by', sa.String(length=100), nullable=True),
    sa.Column('progress', JSON_DOC, nullable=False),
    sa.Column('result', JSON_DOC, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by', BIG_ID, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('started_at', WHEN, nullable=True),
    sa.Column('finished_at', WHEN, nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['operators.id'], name=op.f('fk_jobs_created_by_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_jobs_due', 'jobs', ['status', 'run_after'], unique=False)

    op.create_table('stored_files',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('created_by', BIG_ID, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['operators.id'], name=op.f('fk_stored_files_created_by_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_files')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_stored_files_sha256', 'stored_files', ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stored_files_sha256', table_name='stored_files')
    op.drop_table('stored_files')
    op.drop_index('ix_jobs_due', table_name='jobs')
    op.drop_table('jobs')
    op.drop_index('ix_event_deliveries_due', table_name='event_deliveries')
    op.drop_table('event_deliveries')
    op.drop_table('channel_poll_state')
    op.drop_index('ix_conversations_thread', table_name='conversations')
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table, columns in reversed(_COLUMNS.items()):
        for column in reversed(columns):
            if sqlite:  # in place: a batch rebuild would cascade-delete the rows that reference it
                op.execute(f'ALTER TABLE {table} DROP COLUMN {column.name}')
            else:
                op.drop_column(table, column.name)
