"""``okno simulate --ground-truth N`` and ``bench/analytics.py``: the ground-truth plan played
through an okno app in this process (its own database: a fresh SQLite file unless a URL is
given), the summary compared with the plan's figures, and timings measured.

okno's clock is moved by the play (``travel_to``), which is why this runs in-process and never
against a served okno: a server's clock can't be moved from outside."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from okno.kit import time as okno_time
from okno.reports import ground_truth as gt

PASSWORD = "ground-truth-password-0123456789"


@dataclass(frozen=True)
class Outcome:
    conversations: int
    actions: int
    played_seconds: float
    drain_seconds: float  # time spent draining (relay with every subscriber, ingest, timers) during the play
    events: int  # outbox events the relay delivered
    exact: bool
    expected: dict[str, Any]
    got: dict[str, Any]
    latencies_ms: list[float]
    backend: str
    cpu_seconds: float = 0.0  # this process's CPU time for the play (every thread: the SQLite driver's too)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(int(0.95 * len(ordered)) - 1, 0)]


async def run_ground_truth(n: int, *, database_url: str = "", calls: int = 20, settle_every: int = 50) -> Outcome:
    from okno.app import create_app
    from okno.auth.service import create_operator
    from okno.config import Settings
    from okno.kit.db import create_oneoff_engine
    from okno.kit.migrate import upgrade_to_head

    data_dir = Path(tempfile.mkdtemp(prefix="okno-ground-truth-"))
    settings = Settings(
        data_dir=data_dir, database_url=database_url or f"sqlite+aiosqlite:///{data_dir / 'okno.db'}",
        embedded_workers=False, log_level="warning", token_ttl_hours=24 * 3650,
    )
    engine = create_oneoff_engine(settings.resolved_database_url())
    await upgrade_to_head(engine)
    await engine.dispose()
    app = create_app(settings, start_workers=False)
    offset = okno_time._offset
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.local") as http:
            ctx = app.state.ctx
            async with ctx.db.transaction() as session:
                await create_operator(session, email="ground-truth@okno.test", password=PASSWORD, role="admin", name="Ground truth")
            login = await http.post("/api/v1/auth/login", json={"email": "ground-truth@okno.test", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            setup = await gt.prepare(http, headers)
            planned = gt.plan(n)
            drained = 0.0

            async def settle() -> None:  # the backlog of up to 50 actions, drained: how far the projection lags
                nonlocal drained
                began = time.perf_counter()
                await ctx.settle()
                drained += time.perf_counter() - began

            cpu = time.process_time()
            started = time.perf_counter()  # settled every 50 actions, as the test does (see docs/analytics.md on SLA lag)
            await gt.play(http, ctx.db, settle, setup, planned, settle_every=settle_every)
            played = time.perf_counter() - started
            cpu = time.process_time() - cpu
            async with ctx.db.reading() as session:
                from sqlalchemy import func, select

                from okno.models import OutboxEvent

                events = await session.scalar(select(func.count()).select_from(OutboxEvent))
            start = min(c.opened for c in planned) - timedelta(days=1)
            end = max(c.final_resolution for c in planned) + timedelta(days=1)
            params = {"from": start.isoformat(), "to": end.isoformat()}
            expected = gt.expected_summary(planned, start, end)
            latencies, got = [], {}
            for _ in range(max(calls, 1)):
                t = time.perf_counter()
                response = await http.get("/api/v1/reports/summary", params=params, headers=headers)
                latencies.append((time.perf_counter() - t) * 1000)
                got = response.json()
            return Outcome(n, len(gt.actions(planned)), played, drained, events, got == expected, expected, got, latencies,
                           settings.resolved_database_url().split(":")[0], cpu)
    finally:
        okno_time._offset = offset
