"""e-mail signatures of operators and teams

Revision ID: 0019_email
Revises: 0017_telephony
Create Date: 2026-12-06 17:00:00

``operators.signature`` (set on the operator's own profile) and ``teams.signature`` (set by an
admin) are appended to the e-mails okno sends: the author's, then his conversation's team's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019_email'
down_revision = '0018_trust'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('operators', sa.Column('signature', sa.Text(), nullable=True))
    op.add_column('teams', sa.Column('signature', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('teams') as batch_op:
        batch_op.drop_column('signature')
    with op.batch_alter_table('operators') as batch_op:
        batch_op.drop_column('signature')
