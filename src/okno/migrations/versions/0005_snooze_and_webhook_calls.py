"""snooze (conversations.snoozed_until) and outbound webhook calls of automation rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # a plain nullable column: ADD COLUMN works on SQLite without a batch rebuild
    op.add_column('conversations', sa.Column('snoozed_until', okno.kit.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table('webhook_calls',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('rule_id', BIG_ID, nullable=True),
    sa.Column('conversation_id', BIG_ID, nullable=True),
    sa.Column('customer_id', BIG_ID, nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('secret_sealed', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', okno.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_webhook_calls_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_webhook_calls_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['automation_rules.id'], name=op.f('fk_webhook_calls_rule_id_automation_rules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_calls')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_webhook_calls_idempotency_key')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_webhook_calls_due', 'webhook_calls', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_webhook_calls_due', table_name='webhook_calls')
    op.drop_table('webhook_calls')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops a plain column in place; a batch rebuild of ``conversations``
        # would cascade-delete every message that references it
        op.execute('ALTER TABLE conversations DROP COLUMN snoozed_until')
    else:
        op.drop_column('conversations', 'snoozed_until')
