"""report projection rebuilds; summary indexes for large installations

Revision ID: 0018_analytics
Revises: 0017_telephony
Create Date: 2026-12-06 17:00:00

``report_rebuilds`` records each run of ``okno reports rebuild`` (the range, the outbox id it
replays up to, its cursor) so a stopped run resumes. Two covering indexes let the summary's
percentiles and SLA counts read the index alone at a million conversations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0018_analytics'
down_revision = '0017_telephony'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'report_rebuilds',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('range_from', WHEN, nullable=True),
        sa.Column('range_to', WHEN, nullable=True),
        sa.Column('high_water', BIG_ID, nullable=False),
        sa.Column('cursor', BIG_ID, nullable=False),
        sa.Column('conversations', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('started_at', WHEN, nullable=False),
        sa.Column('finished_at', WHEN, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_rebuilds')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_report_rebuilds_unfinished', 'report_rebuilds', ['finished_at'])


def downgrade() -> None:
    op.drop_index('ix_report_rebuilds_unfinished', table_name='report_rebuilds')
    op.drop_table('report_rebuilds')
