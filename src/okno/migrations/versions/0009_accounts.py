"""accounts: operator kinds (person | integration), API tokens, failed logins for throttling,
the audit log's customer column and indexes for its filters

Revision ID: 0009_accounts
Revises: 0008_dsr
Create Date: 2026-12-06 11:00:00

Added columns are nullable or have a server default, so ``ADD COLUMN`` works in place on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0009_accounts'
down_revision = '0008_dsr'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = okno.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column('operators', sa.Column('kind', sa.String(length=16), server_default='person', nullable=False))
    op.add_column('audit_log', sa.Column('customer_id', sa.BigInteger(), nullable=True))
    # entries about a customer written before the column existed (merges, conflict resolutions)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("UPDATE audit_log SET customer_id = CAST(subject_id AS INTEGER) "
                   "WHERE subject_type = 'customer' AND subject_id != '' AND subject_id NOT GLOB '*[^0-9]*'")
    else:
        op.execute("UPDATE audit_log SET customer_id = CAST(subject_id AS BIGINT) "
                   "WHERE subject_type = 'customer' AND subject_id ~ '^[0-9]{1,18}$'")
    op.create_index('ix_audit_log_customer', 'audit_log', ['customer_id', 'at'], unique=False)
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor_id', 'at'], unique=False)
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('operator_id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_by', BIG_ID, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('expires_at', WHEN, nullable=True),
    sa.Column('revoked_at', WHEN, nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_api_tokens_operator_id_operators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['operators.id'], name=op.f('fk_api_tokens_created_by_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('operator_id', name=op.f('uq_api_tokens_operator_id')),
    sqlite_autoincrement=True
    )

    op.create_table('login_failures',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_login_failures_email', 'login_failures', ['email', 'at'], unique=False)
    op.create_index('ix_login_failures_ip', 'login_failures', ['ip', 'at'], unique=False)
    op.create_index('ix_login_failures_at', 'login_failures', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    op.drop_index('ix_login_failures_ip', table_name='login_failures')
    op.drop_index('ix_login_failures_email', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_table('api_tokens')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_index('ix_audit_log_actor', table_name='audit_log')
    op.drop_index('ix_audit_log_customer', table_name='audit_log')
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table, column in (('audit_log', 'customer_id'), ('operators', 'kind')):
        if sqlite:  # in place: a batch rebuild would cascade-delete the rows that reference it
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        else:
            op.drop_column(table, column)
