"""the rollups' SQLite update triggers name their columns

Revision ID: 0028_rollup_update_columns
Revises: 0027_report_rollups
Create Date: 2026-12-07 11:15:00

On SQLite an ``AFTER UPDATE`` trigger without a column list is coded into every UPDATE of its
table and set up for each row, only to find its WHEN false when no rolled column changed: every
customer message after an answer sets a fact's ``waiting_since`` and paid for the rollups'
largest trigger program. ``AFTER UPDATE OF <the columns its WHEN compares>`` fires in exactly the
same cases (the WHEN needs one of them changed, so set) and SQLite leaves it out of the other
UPDATEs. The four update triggers are replaced with the same bodies; PostgreSQL's row triggers
already test their WHEN before calling the function and are left as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

from alembic import op

revision = "0028_rollup_update_columns"
down_revision = "0027_report_rollups"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parents[1] / "frozen"
UPDATE_TRIGGERS = ("report_rollups_update", "report_rollup_copies_update", "report_rollup_uses_update", "report_rollup_surveys_update")


def _update_triggers(frozen: str) -> list[str]:
    """The ``CREATE TRIGGER`` statements of the four update triggers in a frozen file (SQLite's)."""
    statements = json.loads((FROZEN / frozen).read_text(encoding="utf-8"))["sqlite"]["create_triggers"]
    return [s for s in statements if s.split(" ", 3)[2] in UPDATE_TRIGGERS]


def _replace(statements: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in UPDATE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _replace(_update_triggers("0028_rollup_update_columns.json"))


def downgrade() -> None:
    _replace(_update_triggers("0027_report_rollups.json"))
