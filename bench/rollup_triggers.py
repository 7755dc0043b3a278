"""What the report rollups' triggers (``okno.reports.rollups``) add to the projection's writes, on
PostgreSQL: the same fact-row writes the projection makes for N conversations — the opening
(insert), its channel row, the first response, the resolution, a write of an unrolled column
(``responses``) —
run once with the triggers and once with them off (``session_replication_role = replica``, this
session only), in transactions of ``--batch`` rows, measuring the CPU time of the PostgreSQL backend (from
``/proc``: the server must run on this machine) and the wall-clock time.

    .venv/bin/python bench/rollup_triggers.py --database-url postgresql+asyncpg://…/db [--conversations 5000]

The database must be migrated (``bench/analytics.py --bulk`` loads one); the rows are written on
top of what is there and deleted afterwards in the same mode (the rollups stay equal to the facts). A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from sqlalchemy import text

from okno.kit.db import create_oneoff_engine

STEPS = {
    "insert (opening)": """INSERT INTO report_conversations (conversation_id, customer_id, team_id, operator_id, first_channel_id,
            first_channel_kind, channel_kinds, opened_at, responses, resolution_seconds, resolution_business_seconds, resolutions,
            reopened, transferred)
        SELECT c.id, c.customer_id, 1 + c.id % 5, 2 + c.id % 50, 1, 'api', 'api', TIMESTAMPTZ '2026-03-01 00:00+00' + c.id * interval '7 s',
            0, 0, 0, 0, 0, false
        FROM conversations c WHERE c.id > :low AND c.id <= :high""",
    "insert of its channel row": """INSERT INTO report_conversation_channels (conversation_id, channel_id, kind)
        SELECT c.id, 1 + c.id % 6, 'api' FROM conversations c WHERE c.id > :low AND c.id <= :high""",
    "update: first response": """UPDATE report_conversations SET responses = 1, frt_seconds = 60 + conversation_id % 3000,
        frt_business_seconds = 30 + conversation_id % 2000, first_response_at = opened_at + interval '1 minute', sla_first_response = 'met'
        WHERE conversation_id > :low AND conversation_id <= :high""",
    "update: resolution": """UPDATE report_conversations SET resolved_at = opened_at + interval '2 hours', resolution_seconds = 7200,
        resolution_business_seconds = 3600, resolutions = 1, sla_resolution = 'met' WHERE conversation_id > :low AND conversation_id <= :high""",
    "update of an unrolled column (responses)": """UPDATE report_conversations SET responses = responses + 1
        WHERE conversation_id > :low AND conversation_id <= :high""",
}


def _backend_cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - a /proc read
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(database_url: str, n: int, batch: int) -> dict[str, dict[str, float]]:
    """Per step and mode: backend CPU and wall-clock milliseconds for the n conversations."""
    engine = create_oneoff_engine(database_url)
    out: dict[str, dict[str, float]] = {}
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        top = await connection.scalar(text("SELECT max(id) FROM conversations"))
        for mode in ("triggers off", "triggers on"):
            # conversations without fact rows, deleted again at the end (the facts by cascade, in the same mode)
            await connection.execute(text(
                "INSERT INTO conversations (id, customer_id, status, priority, created_at, updated_at, tags, required_skills, medium)"
                " SELECT g, 1, 'open', 1, now(), now(), '[]', '[]', 'chat' FROM generate_series(:low + 1, :high) g"
            ), {"low": top, "high": top + n})  # fmt: skip
            role = "replica" if mode == "triggers off" else "DEFAULT"
            await connection.execute(text(f"SET session_replication_role = {role}"))
            for step, statement in STEPS.items():
                cpu, wall = _backend_cpu_seconds(pid), time.perf_counter()
                for low in range(top, top + n, batch):  # one transaction a batch, as the projection commits
                    await connection.execute(text(statement), {"low": low, "high": min(low + batch, top + n)})
                out.setdefault(step, {})[f"{mode} CPU"] = 1000 * (_backend_cpu_seconds(pid) - cpu)
                out[step][f"{mode} wall"] = 1000 * (time.perf_counter() - wall)
            # the facts first, in the same mode (the triggers take their rows back out of the rollups; with
            # the replica role the foreign key's cascade would not run either)
            await connection.execute(text("DELETE FROM report_conversations WHERE conversation_id > :low"), {"low": top})
            await connection.execute(text("SET session_replication_role = DEFAULT"))
            await connection.execute(text("DELETE FROM conversations WHERE id > :low"), {"low": top})
    await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=20, help="fact rows a transaction")
    args = parser.parse_args()
    print(f"1-minute load average: {os.getloadavg()[0]:.1f} (shared machine); {args.conversations} conversations")
    for step, figures in asyncio.run(run(args.database_url, args.conversations, args.batch)).items():
        off, on = figures["triggers off CPU"], figures["triggers on CPU"]
        print(f"{step}: backend CPU {off:.0f} → {on:.0f} ms ({(on - off) / args.conversations * 1000:.0f} µs a row more); "
              f"wall {figures['triggers off wall']:.0f} → {figures['triggers on wall']:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
