"""The plans behind a report: runs the summary (or the operators report) once as an admin against a
database (a base ``bench/analytics.py --bulk`` loaded), records every statement it sends, then
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of each with the same parameters and its execution time.

    .venv/bin/python bench/analytics_explain.py --database-url postgresql+asyncpg://…/db \\
        [--from 2026-06-01T00:00:00Z --to 2026-07-01T00:00:00Z] [--team-id 2] [--channel-id 3] [--report operators]
        [--cpu 20]

``--cpu K`` runs the report K times on one connection instead and prints, per call, the median
and p95 of its wall-clock time, of the CPU time the PostgreSQL backend spent on it (from
``/proc/<backend pid>/stat``: the server must run on this machine) and of this process's CPU time
(building the statements, decoding the rows, the Python figures). CPU time is what the load of
a shared machine hardly moves; wall-clock time under load is only a direction.

A script that prints plans, not a test; the machine is shared, so the times vary with its load.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import statistics
import time
from datetime import datetime

from sqlalchemy import event

from okno.access import Scope
from okno.kit.db import create_oneoff_engine
from okno.reports import queries
from okno.reports.periods import checked_period


async def explain(database_url: str, f: queries.Filters, report: str) -> list[tuple[str, list[str]]]:
    engine = create_oneoff_engine(database_url)
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, ARG001
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    async with engine.connect() as connection:
        from sqlalchemy.ext.asyncio import AsyncSession

        session = AsyncSession(bind=connection)
        await (queries.summary(session, f) if report == "summary" else queries.operators(session, f))
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        out = []
        for statement, parameters in sent:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection  # asyncpg: the statement as sent ($1, $2 …) and its arguments
            lines = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
            out.append((statement, [line[0] for line in lines]))
    await engine.dispose()
    return out


def _backend_cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - a /proc read
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def cpu(database_url: str, f: queries.Filters, report: str, calls: int) -> dict[str, list[float]]:
    """Per call: wall-clock, backend CPU and this process's CPU, in milliseconds."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_oneoff_engine(database_url)
    out: dict[str, list[float]] = {"wall": [], "backend CPU": [], "Python CPU": []}
    async with engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        session = AsyncSession(bind=connection)
        for _ in range(calls + 1):  # the first call prepares the statements: not counted
            wall, backend, python = time.perf_counter(), _backend_cpu_seconds(pid), time.process_time()
            await (queries.summary(session, f) if report == "summary" else queries.operators(session, f))
            out["wall"].append(1000 * (time.perf_counter() - wall))
            out["backend CPU"].append(1000 * (_backend_cpu_seconds(pid) - backend))
            out["Python CPU"].append(1000 * (time.process_time() - python))
            await session.rollback()
    await engine.dispose()
    return {name: values[1:] for name, values in out.items()}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--from", dest="start", default="2026-06-01T00:00:00+00:00")
    parser.add_argument("--to", dest="end", default="2026-07-01T00:00:00+00:00")
    parser.add_argument("--team-id", type=int)
    parser.add_argument("--channel-id", type=int)
    parser.add_argument("--report", choices=("summary", "operators"), default="summary")
    parser.add_argument("--cpu", type=int, default=0, help="run the report this many times and print wall and CPU times instead of plans")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("EXPLAIN (ANALYZE, BUFFERS) as printed here is PostgreSQL's: give a postgresql+asyncpg URL")
    start, end = checked_period(datetime.fromisoformat(args.start), datetime.fromisoformat(args.end))
    scope = Scope(operator_id=0, role="admin")
    f = queries.Filters(start=start, end=end, scope=scope, team_id=args.team_id, channel_id=args.channel_id)
    print(f"1-minute load average: {os.getloadavg()[0]:.1f} (shared machine)")
    if args.cpu:
        for name, values in asyncio.run(cpu(args.database_url, f, args.report, args.cpu)).items():
            print(f"{name}: median {statistics.median(values):.1f} ms, p95 {_percentile(values, 0.95):.1f} ms over {len(values)} calls")
        print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f}")
        return
    total = 0.0
    for i, (statement, plan) in enumerate(asyncio.run(explain(args.database_url, f, args.report)), 1):
        took = next((float(m.group(1)) for line in plan if (m := re.match(r"Execution Time: ([\d.]+) ms", line.strip()))), 0.0)
        total += took
        print(f"\n=== statement {i}: {took:.1f} ms\n{statement}\n")
        print("\n".join(plan))
    print(f"\nexecution time of all statements: {total:.1f} ms")


if __name__ == "__main__":
    main()
