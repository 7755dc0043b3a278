"""operators choose the UI's colours: light, dark or the system's

Revision ID: 0025_inbox
Revises: 0024_analytics
Create Date: 2026-12-06 23:50:00

``operators.theme``: "light" or "dark"; NULL follows the device's setting (the default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025_inbox'
down_revision = '0024_analytics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.add_column(sa.Column('theme', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.drop_column('theme')
