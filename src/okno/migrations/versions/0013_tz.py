"""operators choose their own time zone

Revision ID: 0013_tz
Revises: 0012_lists
Create Date: 2026-12-06 14:00:00

``operators.time_zone`` (an IANA name; empty: the installation's ``OKNO_DEFAULT_TIME_ZONE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_tz'
down_revision = '0012_lists'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.drop_column('time_zone')
