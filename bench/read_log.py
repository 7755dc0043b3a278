"""Writer time of audited reads: the batched ``ReadLog`` flush against one transaction per read.

A fresh, migrated SQLite file; for N reads, the median time of one ``ReadLog.flush()`` holding N
entries (20 repetitions) and of N single-entry write transactions (3 repetitions).

    .venv/bin/python bench/read_log.py

A script that prints figures, not a test.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from okno.audit.reads import PageReads, ReadLog
from okno.kit.audit import audit
from okno.kit.db import create_database, create_oneoff_engine
from okno.kit.migrate import upgrade_to_head


def _entry(customer_id: int) -> dict:
    reads = PageReads(actor_id=None)
    reads.saw("read.customer", customer_ids=customer_id)
    entry = reads.entry(ip="127.0.0.1", path=f"/api/v1/customers/{customer_id}")
    assert entry is not None
    return entry


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="okno-read-log-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'okno.db'}"
        engine = create_oneoff_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        db = create_database(url)
        log = ReadLog(db, flush_seconds=3600)
        for n in (1, 60, 500):
            batched, single = [], []
            for _ in range(20):
                for i in range(n):
                    log.record(_entry(i))
                started = time.perf_counter()
                await log.flush()
                batched.append(time.perf_counter() - started)
            for _ in range(3):
                started = time.perf_counter()
                for i in range(n):
                    async with db.transaction() as session:
                        await audit(session, actor_id=None, action="read.customer", subject=("customer", i))
                single.append(time.perf_counter() - started)
            print(
                f"{n:4d} reads: one batched transaction {statistics.median(batched) * 1000:.1f} ms; "
                f"one transaction per read {statistics.median(single) * 1000:.1f} ms in all"
            )
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
