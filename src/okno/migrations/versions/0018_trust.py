"""rate counters shared by every process (the website chat's limits)

Revision ID: 0018_trust
Revises: 0017_telephony
Create Date: 2026-12-06 17:30:00

``rate_counters`` counts requests per blinded key and per minute, so the widget's limits hold
across several serve processes (okno.channels.adapters.widget.limits).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_trust'
down_revision = '0017_telephony'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_counters',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('minute', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'minute', name=op.f('pk_rate_counters')),
    )


def downgrade() -> None:
    op.drop_table('rate_counters')
