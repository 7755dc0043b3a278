"""reviews: the closing reason for a review answered in the provider's own cabinet

Revision ID: 0016_reviews
Revises: 0015_surveys
Create Date: 2026-12-06 14:00:00

Review sites without a reply API (2GIS, Yandex) are answered by hand in their cabinets; the
operator then resolves the conversation with this reason (docs/reviews.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import okno.kit.db

revision = '0016_reviews'
down_revision = '0015_surveys'
branch_labels = None
depends_on = None

KEY = 'answered_at_provider'


def upgrade() -> None:
    reasons = sa.table(
        'closing_reasons', sa.column('key', sa.String), sa.column('label', okno.kit.db.JsonDoc), sa.column('active', sa.Boolean),
        sa.column('position', sa.Integer),
    )
    op.bulk_insert(reasons, [{'key': KEY, 'label': {'ru': 'Отвечено в кабинете площадки', 'en': "Answered in the provider's cabinet"}, 'active': True, 'position': 70}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM closing_reasons WHERE key = :key").bindparams(key=KEY))
