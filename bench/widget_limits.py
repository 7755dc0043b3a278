"""CPU time of one website-chat limit check: the in-memory bucket (one process) against the
shared counter in ``rate_counters`` (several serve processes), on a fresh migrated SQLite file
and, with ``OKNO_BENCH_DATABASE_URL=postgresql+asyncpg://…``, on PostgreSQL too.

    PYTHONPATH=src:. .venv/bin/python -m bench.widget_limits [--checks 2000]

Process CPU time (``time.process_time``) divided by the number of checks, over 200 visitors
taking turns; wall time is printed beside it (noisy on a shared machine). A script that prints
figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from okno.channels.adapters.widget.limits import Buckets, SharedCounter
from okno.kit.db import create_database, create_oneoff_engine
from okno.kit.migrate import upgrade_to_head

VISITORS = 200


async def _measure(name: str, take, checks: int) -> None:  # noqa: ANN001
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(checks):
        await take(f"visitor-{n % VISITORS}")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{name:34s} {cpu / checks * 1e6:8.0f} µs CPU per check   {wall / checks * 1e6:8.0f} µs wall per check")


async def _shared(url: str, label: str, checks: int) -> None:
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    db = create_database(url)
    counter = SharedCounter(db, "bench", per_minute=10**9)
    await _measure(f"shared counter ({label})", counter.take, checks)
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=2000)
    checks = parser.parse_args().checks
    buckets = Buckets(per_minute=10**9)

    async def memory(key: str) -> float:
        return buckets.take(key)

    await _measure("memory bucket (one process)", memory, checks)
    with tempfile.TemporaryDirectory(prefix="okno-limits-") as folder:
        await _shared(f"sqlite+aiosqlite:///{Path(folder) / 'okno.db'}", "SQLite", checks)
    if url := os.environ.get("OKNO_BENCH_DATABASE_URL"):
        await _shared(url, "PostgreSQL", checks)


if __name__ == "__main__":
    asyncio.run(main())
