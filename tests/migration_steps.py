"""Steps the data migrations' tests share: migrate a database to a revision, and take it down to
one and back up to head (the database comes from the ``fresh_database_url`` fixture)."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from okno.kit.migrate import alembic_config, current_revision, upgrade_to_head


async def upgrade_to(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))


async def down_then_up(engine: AsyncEngine, revision: str) -> tuple[str | None, str | None]:
    """Downgrades to ``revision``, then upgrades to head; the revision after each step."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))
    down = await current_revision(engine)
    await upgrade_to_head(engine)
    return down, await current_revision(engine)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
