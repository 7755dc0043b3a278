"""operators' telephone extensions

Revision ID: 0017_telephony
Revises: 0016_reviews
Create Date: 2026-12-06 14:00:00

``operators.extension`` is an operator's internal number on the office telephone exchange: a
call event names the extension that answered, and click-to-call rings it first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_telephony'
down_revision = '0016_reviews'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('operators', sa.Column('extension', sa.String(length=16), nullable=True))
    op.create_index(op.f('ix_operators_extension'), 'operators', ['extension'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_operators_extension'), table_name='operators')
    with op.batch_alter_table('operators') as batch_op:
        batch_op.drop_column('extension')
