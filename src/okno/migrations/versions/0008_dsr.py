"""data-subject requests and retention: erased customers, redacted messages and raw items, a
retention period per channel

Revision ID: 0008_dsr
Revises: 0007
Create Date: 2026-12-06 11:00:00

Every added column is nullable, so ``ADD COLUMN`` works in place on SQLite (no batch rebuild,
which would cascade-delete rows that reference the table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0008_dsr'
down_revision = '0007'
branch_labels = None
depends_on = None

WHEN = okno.kit.db.UTCDateTime(timezone=True)

_COLUMNS = {
    'customers': [sa.Column('erased_at', WHEN, nullable=True)],
    'messages': [sa.Column('redacted_at', WHEN, nullable=True)],
    'inbound_items': [sa.Column('redacted_at', WHEN, nullable=True)],
    'channels': [sa.Column('retention_days', sa.Integer(), nullable=True)],
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table, columns in reversed(_COLUMNS.items()):
        for column in reversed(columns):
            if sqlite:  # in place: a batch rebuild would cascade-delete the rows that reference it
                op.execute(f'ALTER TABLE {table} DROP COLUMN {column.name}')
            else:
                op.drop_column(table, column.name)
