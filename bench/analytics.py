"""Analytics on this machine: plays the ground-truth plan (okno.reports.ground_truth) through a
real okno app in-process (API-channel webhooks, REST replies, survey events), checks the summary
against the plan, and prints the play rate, the projection lag (how long the relay takes to
drain what the play left queued) and the summary endpoint's latency p50/p95.

    .venv/bin/python bench/analytics.py [--conversations N] [--database-url URL] [--calls K]

Without ``--database-url`` it uses a fresh SQLite file; for PostgreSQL give an empty database.
A script that prints figures, not a test. The machine is shared: timings vary with its load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from okno.app import create_app
from okno.auth.service import create_operator
from okno.config import Settings
from okno.kit import time as okno_time
from okno.reports import ground_truth as gt

PASSWORD = "bench-password-0123456789"


async def run(n: int, database_url: str, calls: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="okno-analytics-"))
    settings = Settings(data_dir=data_dir, database_url=database_url or f"sqlite+aiosqlite:///{data_dir / 'okno.db'}",
                        embedded_workers=False, log_level="warning", token_ttl_hours=24 * 3650)
    app = create_app(settings, start_workers=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.bench") as http:
        ctx = app.state.ctx
        async with ctx.db.transaction() as session:
            await create_operator(session, email="bench@okno.test", password=PASSWORD, role="admin", name="Bench")
        token = (await http.post("/api/v1/auth/login", json={"email": "bench@okno.test", "password": PASSWORD})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        setup = await gt.prepare(http, headers)
        planned = gt.plan(n)

        started = time.perf_counter()  # settled only before transfers (routing must have run), not between actions
        await gt.play(http, ctx.db, ctx.settle, setup, planned, settle_every=10**9)
        played = time.perf_counter() - started
        started = time.perf_counter()
        await ctx.settle()
        lag = time.perf_counter() - started

        start = min(c.opened for c in planned) - timedelta(days=1)
        end = max(c.final_resolution for c in planned) + timedelta(days=1)
        params = {"from": start.isoformat(), "to": end.isoformat()}
        got = (await http.get("/api/v1/reports/summary", params=params, headers=headers)).json()
        exact = got == gt.expected_summary(planned, start, end)
        latencies = []
        for _ in range(calls):
            t = time.perf_counter()
            response = await http.get("/api/v1/reports/summary", params=params, headers=headers)
            latencies.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        latencies.sort()
        p95 = latencies[max(int(0.95 * len(latencies)) - 1, 0)]
        print(f"backend: {settings.resolved_database_url().split(':')[0]}")
        print(f"conversations: {n} ({len(gt.actions(planned))} actions) played in {played:.1f} s ({n / played:.0f} conversations/s)")
        print(f"projection lag: the relay drained the play's backlog in {lag:.1f} s")
        print(f"summary equals the plan's figures: {exact}")
        print(f"summary latency over {calls} calls: p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms")
    okno_time._offset = timedelta(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.conversations, args.database_url, args.calls))


if __name__ == "__main__":
    main()
