"""The proof: conversations with known times played through the real webhooks and REST API, and
the reports API answering exactly what the plan says, to the second (okno.reports.ground_truth).

``OKNO_GROUND_TRUTH_N`` sets the number of conversations. The defaults: on SQLite 10,000 in CI
(``CI`` set, as `.ci/run` does: the issue's proof size, ~8.5 min of one core: 500 s of CPU measured
2026-12-07 at load 2) and 1,000 elsewhere
(≈50 ms of CPU a conversation since the batch forms read rounds at once, measured with
bench/analytics.py on a loaded machine), and 60 on PostgreSQL (≈90 ms a conversation, and each statement a round trip);
docs/analytics.md has the figures, tests/reports/test_round_costs.py pins the statements."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from okno.reports import ground_truth as gt
from okno.reports.figures import span_of
from tests.factories import admin_headers

N_ENV = "OKNO_GROUND_TRUTH_N"


async def test_the_reports_api_returns_exactly_the_simulators_figures(client, ctx, travel) -> None:  # noqa: ANN001
    sqlite_n = 10_000 if os.environ.get("CI") else 1000
    n = int(os.environ.get(N_ENV) or (sqlite_n if ctx.settings.database_url.startswith("sqlite") else 60))
    headers = await admin_headers(ctx, client)
    setup = await gt.prepare(client, headers)
    planned = gt.plan(n)
    assert {c.reopen is not None for c in planned} == {True, False} and any(c.transfer_at for c in planned)
    assert gt.repeated(planned) and len({c.channel for c in planned}) == 2
    started = time.perf_counter()
    await gt.play(client, ctx.db, ctx.settle, setup, planned)
    played = time.perf_counter() - started

    start = min(c.opened for c in planned) - timedelta(days=1)
    end = max(c.final_resolution for c in planned) + timedelta(days=1)
    # and periods holding whole UTC months (read from the monthly rollups, their ends from the facts)
    first_month = datetime(start.year, start.month, 1, tzinfo=UTC)
    after_last = datetime(end.year + end.month // 12, end.month % 12 + 1, 1, tzinfo=UTC)
    windows = [(start, end), (first_month, after_last), (start, after_last), *gt.weeks(planned)]
    assert span_of(first_month, after_last).months and span_of(start, after_last).edges
    whole = gt.expected_summary(planned, start, end)
    assert whole["sla"]["first_response"]["met"] and whole["sla"]["first_response"]["missed"] and whole["sla"]["resolution"]["missed"]
    assert 0 < whole["fcr_rate"] < 1 and 0 < whole["repeat_contact_rate"] < 1 and whole["csat"]["responses"]
    mismatches = []
    for a, b in windows:
        response = await client.get("/api/v1/reports/summary", params={"from": a.isoformat(), "to": b.isoformat()}, headers=headers)
        assert response.status_code == 200, response.text
        expected = gt.expected_summary(planned, a, b)
        if response.json() != expected:
            got = response.json()
            mismatches.append((a.date(), {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}))
    assert mismatches == [], mismatches
    print(f"ground truth: {n} conversations played in {played:.1f} s, {len(windows)} periods checked")

