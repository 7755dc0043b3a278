"""PostgreSQL: a trigram index on customers.name for the inbox's name search

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 02:30:00

The inbox finds customers by any part of their name (``ILIKE '%петр%'``), which no B-tree can
serve: at a million customers that is a full scan per keystroke. ``pg_trgm``'s GIN index serves
``LIKE``/``ILIKE`` with any wildcard. ``pg_trgm`` is a trusted extension (PostgreSQL 13+): the
database owner may create it. Where it can't be created (no privilege, not installed), the
migration goes on without the index and search keeps working, only slower. SQLite: nothing.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEX = 'ix_customers_name_trgm'
log = logging.getLogger('alembic.runtime.migration')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    try:
        with bind.begin_nested():  # a refused CREATE EXTENSION must not abort the migration
            bind.execute(text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except Exception as exc:  # noqa: BLE001 - reported, and the index is optional
        log.warning('pg_trgm unavailable (%s): customer name search will scan the table', exc)
        return
    bind.execute(text(f'CREATE INDEX IF NOT EXISTS {INDEX} ON customers USING gin (name gin_trgm_ops)'))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {INDEX}')
