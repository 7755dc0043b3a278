"""The reports at a million conversations on PostgreSQL (``bench/analytics.py --bulk N``).

Playing a million conversations through the real pipeline would take days on this machine, so
the base is loaded in bulk: N conversations (and the customers, channels, teams and operators
they name) with their projection rows (``report_conversations``, ``report_conversation_channels``,
``report_surveys``) written by ``INSERT … SELECT generate_series`` inside PostgreSQL, with
realistic shapes — a year of arrivals, first responses from minutes to days (a quarter out of
office hours), resolutions, reopenings, transfers, repeat contacts, SLA verdicts, six channel
kinds, 40 % surveyed. The rollups' triggers are off during the load (one transaction) and the
rollups are then computed from the rows, as migration 0027 does. Then a real okno app (its workers running) serves
``GET /api/v1/reports/summary`` against it, and, while API-channel webhooks arrive at full speed,
the projection's lag (the age of the oldest event it has not applied yet) is sampled.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

TEAMS, OPERATORS, KINDS = 5, 50, ("telegram", "whatsapp", "email", "widget", "api", "vk")
START = datetime(2025, 12, 1, tzinfo=UTC)
PASSWORD = "bulk-bench-password-0123456789"
SECRET = "bulk-bench-secret-0123456789"
KEY = "b2tubyBidWxrIGJlbmNoIGtleSAtIG5vdCBzZWNyZXQ="  # a fixed Fernet key: a second run reads the first one's rows


async def _forget_earlier_ingest(database_url: str) -> None:
    """A measuring run on a base loaded before: the earlier run's events are settled history."""
    from sqlalchemy import text

    from okno.kit.db import create_oneoff_engine

    engine = create_oneoff_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM event_deliveries"))
        await connection.execute(text("DELETE FROM outbox"))
    await engine.dispose()


async def _upgrade(database_url: str) -> None:
    from okno.kit.db import create_oneoff_engine
    from okno.kit.migrate import upgrade_to_head

    engine = create_oneoff_engine(database_url)
    await upgrade_to_head(engine)
    await engine.dispose()


@dataclass
class BulkOutcome:
    conversations: int
    load_seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)  # period → ms per call
    under_load: list[float] = field(default_factory=list)  # summary (a month) while ingesting
    lag_samples: list[float] = field(default_factory=list)  # seconds
    accepted: int = 0
    ingest_seconds: float = 0.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(fraction * len(ordered) + 0.999999) - 1, 0)] if ordered else float("nan")


def _sql(n: int, customers: int) -> list[str]:
    """Statements that fill the base; ids 1..n, channels 1..6, teams 1..5, operators from 2."""
    year = 365 * 86400
    return [
        f"INSERT INTO teams (id, name, created_at) SELECT g, 'Bench team ' || g, now() FROM generate_series(1, {TEAMS}) g",
        f"""INSERT INTO operators (id, email, name, password_hash, role, is_active, locale, created_at)
            SELECT g + 1, 'op' || g || '@bench.local', 'Operator ' || g, 'x', 'operator', true, 'ru', now()
            FROM generate_series(1, {OPERATORS}) g""",
        f"""INSERT INTO customers (id, name, attributes, created_at, updated_at)
            SELECT g, 'Bench customer', '{{}}', now(), now() FROM generate_series(1, {customers}) g""",
        f"""INSERT INTO conversations (id, customer_id, status, priority, created_at, updated_at, tags, required_skills, medium, team_id)
            SELECT g, 1 + (g::bigint * 7919) % {customers}, 'resolved', 1,
                   TIMESTAMPTZ '{START.isoformat()}' + make_interval(secs => ((g::bigint * 2654435761) % {year})),
                   now(), '[]', '[]', 'chat', 1 + g % {TEAMS}
            FROM generate_series(1, {n}) g""",
        f"""INSERT INTO report_conversations (conversation_id, customer_id, team_id, operator_id, first_channel_id, first_channel_kind,
                opened_at, responses, first_response_at, first_responder_id, frt_seconds, frt_business_seconds, open_since, resolved_at,
                resolution_seconds, resolution_business_seconds, resolutions, reopened, transferred, reason, repeat_contact_id,
                sla_first_response, sla_resolution)
            SELECT c.id, c.customer_id, c.team_id, 2 + c.id % {OPERATORS}, 1 + c.id % 6, (ARRAY{list(KINDS)})[1 + c.id % 6],
                   c.created_at, 1 + (c.id % 3 = 0)::int, c.created_at + make_interval(secs => f.frt), 2 + c.id % {OPERATORS},
                   f.frt, f.frt_business,
                   CASE WHEN c.id % 20 = 0 THEN c.created_at END,
                   CASE WHEN c.id % 20 <> 0 THEN c.created_at + make_interval(secs => f.frt + f.work) END,
                   CASE WHEN c.id % 20 <> 0 THEN f.frt + f.work ELSE 0 END,
                   CASE WHEN c.id % 20 <> 0 THEN f.frt_business + f.work / 2 ELSE 0 END,
                   (c.id % 20 <> 0)::int, (c.id % 9 = 0)::int, c.id % 10 = 0,
                   (ARRAY['delivery','payment','return','other'])[1 + c.id % 4],
                   CASE WHEN c.id % 6 = 0 AND c.id + 7 <= {n} THEN c.id + 7 END,
                   CASE WHEN f.frt_business <= 2700 THEN 'met' ELSE 'missed' END,
                   CASE WHEN c.id % 20 = 0 THEN NULL WHEN f.frt_business + f.work / 2 <= 14400 THEN 'met' ELSE 'missed' END
            FROM conversations c
            CROSS JOIN LATERAL (SELECT
                CASE WHEN c.id % 4 = 0 THEN 50400 + (c.id * 37) % 190000 ELSE 120 + (c.id * 13) % 5400 END AS frt,
                CASE WHEN c.id % 4 = 0 THEN (c.id * 11) % 3600 ELSE 120 + (c.id * 13) % 5400 END AS frt_business,
                60 + (c.id * 17) % 20000 AS work) f""",
        """INSERT INTO report_conversation_channels (conversation_id, channel_id, kind)
            SELECT conversation_id, first_channel_id, first_channel_kind FROM report_conversations""",
        f"""INSERT INTO report_conversation_channels (conversation_id, channel_id, kind)
            SELECT conversation_id, 1 + (first_channel_id % 6), (ARRAY{list(KINDS)})[1 + (first_channel_id % 6)]
            FROM report_conversations WHERE conversation_id % 7 = 0""",
        """UPDATE report_conversations AS f SET channel_kinds = used.kinds
            FROM (SELECT conversation_id, string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds
                  FROM report_conversation_channels GROUP BY conversation_id) AS used
            WHERE used.conversation_id = f.conversation_id""",
        """INSERT INTO report_surveys (survey_id, conversation_id, kind, customer_id, channel_id, team_id, operator_id, sent_at, answered_at, score, period_at)
            SELECT 1 + conversation_id % 3, conversation_id, (ARRAY['csat','nps','ces'])[1 + conversation_id % 3], customer_id,
                   first_channel_id, team_id, operator_id, resolved_at, CASE WHEN conversation_id % 5 < 3 THEN resolved_at + interval '1 hour' END,
                   CASE WHEN conversation_id % 5 < 3 THEN (ARRAY[5, 10, 7])[1 + conversation_id % 3] - (conversation_id / 3) % 5 END,
                   resolved_at
            FROM report_conversations WHERE resolved_at IS NOT NULL AND conversation_id % 5 < 2""",
    ]


async def load_base(database_url: str, n: int) -> float:
    """Migrates an empty database and fills it; returns the seconds it took."""
    from sqlalchemy import text

    from okno.kit.db import create_oneoff_engine
    from okno.kit.migrate import upgrade_to_head
    from okno.reports.rollups import fill_statements

    engine = create_oneoff_engine(database_url)
    await upgrade_to_head(engine)
    began = time.perf_counter()
    async with engine.begin() as connection:
        # the rollups' triggers (okno.reports.rollups) would fire a million times over: off for the
        # load (this transaction only), then the rollups are computed from the facts as the migration does
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in _sql(n, max(n // 3, 1)):
            await connection.execute(text(statement))
        await connection.execute(text("SET LOCAL session_replication_role = DEFAULT"))
        for statement in fill_statements("postgresql"):
            await connection.execute(text(statement))
        for table in ("teams", "operators", "customers", "conversations"):
            await connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))  # the visibility map: index-only scans
    await engine.dispose()
    return time.perf_counter() - began


async def measure(database_url: str, n: int, *, calls: int = 30, ingest_seconds: float = 30.0, senders: int = 8, load: bool = True) -> BulkOutcome:
    import tempfile
    from pathlib import Path

    from okno.app import create_app
    from okno.auth.service import create_operator
    from okno.config import Settings
    from okno.kit.errors import Conflict
    from okno.kit.signing import sign

    outcome = BulkOutcome(conversations=n, load_seconds=await load_base(database_url, n) if load else 0.0)
    if not load:
        await _upgrade(database_url)  # a base loaded by an earlier version: its migrations since (they fill new projection columns)
        await _forget_earlier_ingest(database_url)
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="okno-bulk-")), database_url=database_url, log_level="warning", secret_keys=KEY)
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.local", timeout=60) as http:
        ctx = app.state.ctx
        try:
            async with ctx.db.transaction() as session:
                await create_operator(session, email="bulk@okno.local", password=PASSWORD, role="admin", name="Bulk")
        except Conflict:
            pass  # an earlier run made it
        login = await http.post("/api/v1/auth/login", json={"email": "bulk@okno.local", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        month = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
        periods: dict[str, dict[str, Any]] = {
            "a month": {"from": month[0].isoformat(), "to": month[1].isoformat()},
            "a month, one team": {"from": month[0].isoformat(), "to": month[1].isoformat(), "team_id": 2},
            "a year (every conversation)": {"from": START.isoformat(), "to": (START + timedelta(days=366)).isoformat()},
            "a month, one channel": {"from": month[0].isoformat(), "to": month[1].isoformat(), "channel_id": 3},
            "a year, one channel": {"from": START.isoformat(), "to": (START + timedelta(days=366)).isoformat(), "channel_id": 3},
            # Moscow midnights: two partial UTC months at the ends, read from the facts
            "a year in UTC+3, one channel": {
                "from": (START - timedelta(hours=3)).isoformat(),
                "to": (START + timedelta(days=365, hours=-3)).isoformat(),
                "channel_id": 3,
            },
        }
        for name, params in periods.items():
            outcome.latencies[name] = await _timed_calls(http, headers, params, calls)
        month_params = periods["a month"]
        others = {  # the other report endpoints, fewer calls (a time series is many summaries' worth)
            "timeseries frt by day, a month": ("/api/v1/reports/timeseries", {**month_params, "metric": "frt", "interval": "day"}),
            "timeseries channel_share by day, a month": ("/api/v1/reports/timeseries", {**month_params, "metric": "channel_share", "interval": "day"}),
            "timeseries conversations by hour, a month": ("/api/v1/reports/timeseries", {**month_params, "metric": "conversations", "interval": "hour"}),
            "operators, a month": ("/api/v1/reports/operators", month_params),
            "operators, a year": ("/api/v1/reports/operators", periods["a year (every conversation)"]),
        }
        for name, (path, params) in others.items():
            outcome.latencies[name] = await _timed_calls(http, headers, params, max(calls // 3, 3), path=path)

        channel = await http.post("/api/v1/channels", json={"kind": "api", "name": "Bulk load", "config": {"secret": SECRET}, "team_id": 1}, headers=headers)
        assert channel.status_code == 201, channel.text
        url = f"/webhooks/{channel.json()['id']}"
        stop = asyncio.Event()
        counter = iter(range(10**9))

        async def sender() -> None:
            while not stop.is_set():
                i = next(counter)
                body = orjson.dumps({"message_id": f"bulk-{i}", "from": {"phone": f"+7917{i:07d}"}, "text": "Где мой заказ?"})
                response = await http.post(url, content=body, headers={"content-type": "application/json", "x-okno-signature": sign(SECRET, body)})
                if response.status_code == 200:
                    outcome.accepted += 1

        async def sampler() -> None:
            while not stop.is_set():
                outcome.lag_samples.append(await _projection_lag(ctx.db))
                await asyncio.sleep(0.5)

        async def reader() -> None:
            while not stop.is_set():
                outcome.under_load.extend(await _timed_calls(http, headers, periods["a month"], 1))
                await asyncio.sleep(0.5)

        began = time.perf_counter()
        tasks = [asyncio.create_task(sender()) for _ in range(senders)] + [asyncio.create_task(sampler()), asyncio.create_task(reader())]
        await asyncio.sleep(ingest_seconds)
        stop.set()
        await asyncio.gather(*tasks)
        outcome.ingest_seconds = time.perf_counter() - began
    return outcome


async def _timed_calls(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any], calls: int, path: str = "/api/v1/reports/summary"
) -> list[float]:
    out = []
    for _ in range(calls):
        began = time.perf_counter()
        response = await http.get(path, params=params, headers=headers)
        out.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return out


async def _projection_lag(db: Any) -> float:  # noqa: ANN401
    """Seconds since the oldest event the projection still has to apply was recorded (0: none)."""
    from sqlalchemy import select

    from okno.kit.time import utcnow
    from okno.models import OutboxEvent, ReportSeenEvent
    from okno.reports.projection import TOPICS

    async with db.reading() as session:
        oldest = await session.scalar(
            select(OutboxEvent.created_at)
            .outerjoin(ReportSeenEvent, ReportSeenEvent.event_id == OutboxEvent.id)
            .where(ReportSeenEvent.event_id.is_(None), OutboxEvent.topic.in_(TOPICS))
            .order_by(OutboxEvent.id)
            .limit(1)
        )
    return 0.0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0.0)


def report(out: BulkOutcome) -> list[str]:
    how = f"loaded in {out.load_seconds:.0f} s (INSERT … SELECT in PostgreSQL, then VACUUM ANALYZE)" if out.load_seconds else "loaded by an earlier run"
    lines = [f"base: {out.conversations:,} conversations {how}"]
    for name, values in out.latencies.items():
        what = name if name.startswith(("timeseries", "operators")) else f"summary, {name}"
        lines.append(f"{what}: p50 {statistics.median(values):.0f} ms, p95 {percentile(values, 0.95):.0f} ms over {len(values)} calls")
    if out.under_load:
        lines.append(f"summary, a month, during the ingest load: p50 {statistics.median(out.under_load):.0f} ms, "
                     f"p95 {percentile(out.under_load, 0.95):.0f} ms over {len(out.under_load)} calls")
    if out.ingest_seconds:
        lines.append(f"ingest load: {out.accepted} webhooks accepted in {out.ingest_seconds:.0f} s ({out.accepted / out.ingest_seconds:.1f} msg/s)")
    if out.lag_samples:
        lines.append(f"projection lag under that load (oldest unapplied event's age, sampled every 0.5 s): "
                     f"p50 {statistics.median(out.lag_samples):.2f} s, p95 {percentile(out.lag_samples, 0.95):.2f} s, max {max(out.lag_samples):.2f} s")
    return lines
