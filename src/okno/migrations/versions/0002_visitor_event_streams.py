"""visitor event streams

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:54:29.104446
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import okno.kit.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visitor_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visitor_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', okno.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_visitor_events_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visitor_events')),
    sa.UniqueConstraint('channel_id', 'visitor_id', 'client_id', name=op.f('uq_visitor_events_channel_id_visitor_id_client_id')),
    sa.UniqueConstraint('channel_id', 'visitor_id', 'seq', name=op.f('uq_visitor_events_channel_id_visitor_id_seq')),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    op.drop_table('visitor_events')
