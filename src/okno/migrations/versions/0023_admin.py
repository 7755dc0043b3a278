"""SLA policies can be disabled

Revision ID: 0023_admin
Revises: 0017_telephony
Create Date: 2026-12-06 17:10:00

``sla_policies.is_active``: a policy SLA results already name is disabled instead of deleted; it
governs nothing new (conversations fall back to the default policy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023_admin'
down_revision = '0022_inbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('sla_policies', sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sla_policies') as batch_op:
        batch_op.drop_column('is_active')
