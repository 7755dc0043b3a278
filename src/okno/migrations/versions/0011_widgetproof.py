"""one-time codes that prove a key typed into the website chat (identity_verifications)

Revision ID: 0011_widgetproof
Revises: 0010_pii
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0011_widgetproof'
down_revision = '0010_pii'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = okno.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('identity_verifications',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('channel_id', BIG_ID, nullable=False),
    sa.Column('requester_kind', sa.String(length=32), nullable=False),
    sa.Column('requester_value', sa.String(length=320), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('value_index', sa.LargeBinary(length=16), nullable=False),
    sa.Column('owner_id', BIG_ID, nullable=True),
    sa.Column('via_channel_id', BIG_ID, nullable=True),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('expires_at', WHEN, nullable=False),
    sa.Column('verified_at', WHEN, nullable=True),
    sa.Column('merge_id', BIG_ID, nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_identity_verifications_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['customers.id'], name=op.f('fk_identity_verifications_owner_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['via_channel_id'], ['channels.id'], name=op.f('fk_identity_verifications_via_channel_id_channels'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merge_id'], ['customer_merges.id'], name=op.f('fk_identity_verifications_merge_id_customer_merges'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_verifications')),
    sqlite_autoincrement=True
    )
    op.create_index('ix_identity_verifications_requester', 'identity_verifications', ['channel_id', 'requester_value', 'created_at'], unique=False)
    op.create_index('ix_identity_verifications_key', 'identity_verifications', ['kind', 'value_index', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_identity_verifications_key', table_name='identity_verifications')
    op.drop_index('ix_identity_verifications_requester', table_name='identity_verifications')
    op.drop_table('identity_verifications')
