"""Alembic environment. okno runs migrations in code (``okno.kit.migrate``), handing over a
live connection; there is no alembic.ini to keep in sync."""

from __future__ import annotations

from alembic import context

import okno.models  # noqa: F401  (registers every table)
from okno.kit.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
