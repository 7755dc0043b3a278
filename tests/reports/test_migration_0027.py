"""Migration 0027_report_rollups fills the monthly rollups from the fact and survey rows already
there (what the triggers would have built), fills the channel rows' copies of their facts, and goes down and up."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from okno.kit.migrate import upgrade_to_head
import okno
from okno.reports.rollups import COLUMNS, drop_trigger_ddl, fill_statements, grouped_reads, trigger_ddl
from tests.migration_steps import down_then_up, head_revision, upgrade_to

FROZEN_0027 = Path(okno.__file__).parent / "migrations" / "frozen" / "0027_report_rollups.json"
FROZEN_0028 = Path(okno.__file__).parent / "migrations" / "frozen" / "0028_rollup_update_columns.json"


async def _fill_at_0026_then_upgrade(url: str) -> tuple[dict, dict, tuple, str | None, str | None]:
    engine = create_async_engine(url)
    try:
        await upgrade_to(engine, "0026_inbox_live")
        now = "'2026-12-06 10:00:00+00'"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO customers (id, name, attributes, created_at, updated_at) VALUES (1, 'A', '{{}}', {now}, {now})"
                )
            )
            for conv in range(1, 7):
                opened, resolved = (
                    f"'2026-{conv:02d}-10 08:00:00+00'",
                    f"'2026-{conv + 1:02d}-01 09:00:00+00'" if conv % 3 else "NULL",
                )
                await conn.execute(
                    text(
                        "INSERT INTO conversations (id, customer_id, status, priority, created_at, updated_at, tags, required_skills, medium) "
                        f"VALUES ({conv}, 1, 'open', 1, {now}, {now}, '[]', '[]', 'chat')"
                    )
                )
                await conn.execute(text(
                    "INSERT INTO report_conversations (conversation_id, customer_id, team_id, operator_id, opened_at, responses, frt_seconds,"
                    " frt_business_seconds, sla_first_response, resolved_at, resolution_seconds, resolution_business_seconds, resolutions,"
                    " reopened, transferred, first_channel_kind, channel_kinds)"
                    f" VALUES ({conv}, 1, {conv % 2 or 'NULL'}, {conv % 3 or 'NULL'}, {opened}, 1, {conv * 100}, {conv * 50}, 'met', {resolved},"
                    f" {conv * 1000}, {conv * 400}, 1, 0, false, 'api', 'api,email')"
                ))  # fmt: skip
                for channel in (7, 8) if conv % 2 else (7,):  # the odd ones used two channels
                    await conn.execute(text(
                        "INSERT INTO report_conversation_channels (conversation_id, channel_id, kind)"
                        f" VALUES ({conv}, {channel}, 'api')"
                    ))  # fmt: skip
                await conn.execute(text(
                    "INSERT INTO report_surveys (survey_id, conversation_id, kind, customer_id, channel_id, team_id, sent_at, score, period_at)"
                    f" VALUES (1, {conv}, 'csat', 1, 2, {conv % 2 or 'NULL'}, {opened}, {conv % 5 + 1}, {opened})"
                ))  # fmt: skip
        await upgrade_to_head(engine)
        dialect = engine.dialect.name
        async with engine.connect() as conn:
            stored = {
                table: {tuple(r) for r in await conn.execute(text(f"SELECT {columns} FROM {table}"))}
                for table, columns in COLUMNS.items()
            }
            expected = {table: {tuple(r) for r in await conn.execute(text(grouped_reads(dialect)[table]))} for table in COLUMNS}
            copies = (await conn.execute(text(
                "SELECT COUNT(*), COUNT(used.frt_seconds) FROM report_conversation_channels AS used JOIN report_conversations AS fact"
                " USING (conversation_id) WHERE used.opened_at = fact.opened_at AND used.frt_seconds = fact.frt_seconds"
                " AND used.resolution_business_seconds = fact.resolution_business_seconds"
            ))).one()  # fmt: skip
        down, up = await down_then_up(engine, "0026_inbox_live")
        return stored, expected, tuple(copies), down, up
    finally:
        await engine.dispose()


def test_the_migration_fills_the_rollups_from_the_rows_already_there(fresh_database_url: str) -> None:
    stored, expected, copies, down, up = asyncio.run(_fill_at_0026_then_upgrade(fresh_database_url))
    assert stored == expected
    assert copies == (9, 9)  # every channel row carries its fact's copies
    openings = {channel: sum(r[5] for r in stored["report_rollups"] if r[:2] == (0, channel)) for channel in (0, 7, 8)}
    assert openings == {0: 6, 7: 6, 8: 3} and len(stored["report_rollups"]) == 3 * (6 + 4) - 3 - 2
    assert sum(r[5] for r in stored["report_rollup_surveys"]) == 6 and len(stored["report_rollup_durations"]) > 0
    assert (down, up) == ("0026_inbox_live", head_revision())


def test_the_migrations_create_the_triggers_the_module_generates() -> None:
    """0027 (and 0028, SQLite's update triggers) read their statements from frozen copies, not
    from the live module. While the rollups are unchanged the head's triggers and the module agree;
    when this fails, ``okno.reports.rollups`` changed what it generates: keep the frozen files as
    they are, add a revision that replaces the triggers (and refills the rollups if their meaning
    changed), and make this test read its frozen file too."""
    frozen = json.loads(FROZEN_0027.read_text(encoding="utf-8"))
    replaced = json.loads(FROZEN_0028.read_text(encoding="utf-8"))["sqlite"]["create_triggers"]
    by_name = {statement.split(" ", 3)[2]: statement for statement in replaced}
    head = {
        "postgresql": frozen["postgresql"]["create_triggers"],
        "sqlite": [by_name.get(statement.split(" ", 3)[2], statement) for statement in frozen["sqlite"]["create_triggers"]],
    }
    assert len(by_name) == 4 and all(name in {s.split(" ", 3)[2] for s in head["sqlite"]} for name in by_name)
    for dialect in ("sqlite", "postgresql"):
        assert head[dialect] == trigger_ddl(dialect), dialect
        assert frozen[dialect]["fill"] == fill_statements(dialect), dialect
        assert frozen[dialect]["drop_triggers"] == drop_trigger_ddl(dialect), dialect
