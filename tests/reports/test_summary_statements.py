"""The summary's SQL on its own: nearest-rank percentiles computed inside the database for every
size of a period, rows without a figure left out — by sorting (PostgreSQL's ``percentile_disc``,
SQLite's row numbers) for a period without a whole month, from the rollups' histograms and one
bucket's rows for a period holding one — and the whole summary in four statements (five with a
whole month) on either database."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text

from okno.access import Scope
from okno.models import Conversation, Customer, ReportConversation
from okno.reports import queries, short_periods

START = datetime(2026, 3, 2, tzinfo=UTC)
ADMIN = Scope(operator_id=0, role="admin")


def nearest_rank(values: list[int], fraction: float) -> int:
    return sorted(values)[math.ceil(fraction * len(values)) - 1]


async def _facts(ctx, rows: list[dict]) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        customer = Customer(name="Percentiles")
        session.add(customer)
        await session.flush()
        for row in rows:
            conversation = Conversation(customer_id=customer.id, created_at=row["opened_at"])
            session.add(conversation)
            await session.flush()
            session.add(ReportConversation(conversation_id=conversation.id, customer_id=customer.id, **row))


async def test_percentiles_are_the_nearest_rank_for_every_size_and_skip_rows_without_a_figure(ctx) -> None:  # noqa: ANN001
    rng = random.Random(7)
    sizes = [1, 2, 3, 4, 7, 10, 11, 19, 20, 21, 99]
    every: list[tuple[int, int]] = []
    for index, size in enumerate(sizes):  # one day per size: each period holds exactly one set
        day = START + timedelta(days=index)
        waits = [rng.randrange(1, 5000) for _ in range(size)]  # ties included (a narrow range)
        waits[-1] = waits[0]
        rows = [{"opened_at": day + timedelta(minutes=i), "frt_seconds": w, "frt_business_seconds": 7 * w % 1000} for i, w in enumerate(waits)]
        rows += [{"opened_at": day + timedelta(hours=20, minutes=i)} for i in range(3)]  # not answered: no FRT
        await _facts(ctx, rows)
        async with ctx.db.reading() as session:
            got = await queries.duration_stats(session, queries.Filters(day, day + timedelta(days=1), ADMIN), 0)
            # every day so far, from a period holding a whole month (February, empty): histogram and bucket reads
            every += [(w, 7 * w % 1000) for w in waits]
            since = queries.Filters(datetime(2026, 2, 1, tzinfo=UTC), day + timedelta(days=1), ADMIN)
            assert await queries.duration_stats(session, since, 0) == {
                "count": len(every),
                "avg_seconds": math.floor(sum(w for w, _ in every) / len(every) + 0.5),
                "p50_seconds": nearest_rank([w for w, _ in every], 0.5),
                "p90_seconds": nearest_rank([w for w, _ in every], 0.9),
                "business_avg_seconds": math.floor(sum(b for _, b in every) / len(every) + 0.5),
                "business_p50_seconds": nearest_rank([b for _, b in every], 0.5),
            }, size
        business = [7 * w % 1000 for w in waits]
        assert got == {
            "count": size,
            "avg_seconds": math.floor(sum(waits) / size + 0.5),
            "p50_seconds": nearest_rank(waits, 0.5),
            "p90_seconds": nearest_rank(waits, 0.9),
            "business_avg_seconds": math.floor(sum(business) / size + 0.5),
            "business_p50_seconds": nearest_rank(business, 0.5),
        }, size
    async with ctx.db.reading() as session:  # a period with openings but no answer at all
        empty = START + timedelta(days=len(sizes))
        await _facts(ctx, [{"opened_at": empty}])
        got = await queries.duration_stats(session, queries.Filters(empty, empty + timedelta(days=1), ADMIN), 0)
    assert got == {"count": 0, "avg_seconds": None, "p50_seconds": None, "p90_seconds": None, "business_avg_seconds": None, "business_p50_seconds": None}


async def test_the_summary_is_four_statements_five_with_a_whole_month_with_every_figure(ctx) -> None:  # noqa: ANN001
    resolved = {"resolved_at": START + timedelta(hours=5), "resolutions": 1, "reason": "delivery"}
    await _facts(ctx, [
        {"opened_at": START + timedelta(hours=1), "frt_seconds": 60, "frt_business_seconds": 30, "sla_first_response": "met",
         "first_channel_kind": "api", "channel_kinds": "api,email", "resolution_seconds": 600, "resolution_business_seconds": 300,
         "sla_resolution": "met", **resolved},
        {"opened_at": START + timedelta(hours=2), "frt_seconds": 90, "frt_business_seconds": 90, "sla_first_response": "missed",
         "first_channel_kind": "email", "channel_kinds": "email", "resolution_seconds": 900, "resolution_business_seconds": 900,
         "sla_resolution": "missed", "reopened": 1, **resolved},
        {"opened_at": START + timedelta(hours=3), "first_channel_kind": "api", "channel_kinds": "api"},
    ])  # fmt: skip
    sent: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ARG001
        if not statement.startswith("SET LOCAL"):  # PostgreSQL: the sorts' memory for the transaction
            sent.append(statement)

    async with ctx.db.reading() as session:
        target = session.bind.sync_engine
        event.listen(target, "before_cursor_execute", record)
        try:
            got = await queries.summary(session, queries.Filters(START, START + timedelta(days=1), ADMIN))
            day_statements = len(sent)
            month = await queries.summary(session, queries.Filters(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), ADMIN))
        finally:
            event.remove(target, "before_cursor_execute", record)
    assert day_statements == 4 and len(sent) == 4 + 5, sent
    assert month == got
    assert got["conversations"] == 3 and got["resolved"] == 2
    assert got["frt"] == {"count": 2, "avg_seconds": 75, "p50_seconds": 60, "p90_seconds": 90, "business_avg_seconds": 60, "business_p50_seconds": 30}
    assert got["resolution"] == {"count": 2, "avg_seconds": 750, "p50_seconds": 600, "p90_seconds": 900, "business_avg_seconds": 600,
                                 "business_p50_seconds": 300}  # fmt: skip
    assert got["sla"] == {"first_response": {"met": 1, "missed": 1, "rate": 0.5}, "resolution": {"met": 1, "missed": 1, "rate": 0.5}}
    assert (got["fcr_rate"], got["repeat_contact_rate"]) == (0.5, 0.0)
    assert got["channel_share"] == {"api": {"conversations": 2, "share": 0.6667}, "email": {"conversations": 2, "share": 0.6667}}
    assert got["first_touch"] == {"api": 2, "email": 1}


async def test_postgresql_sorts_get_their_memory_once_per_session(ctx) -> None:  # noqa: ANN001
    """A year's durations sort in memory and no statement is JIT-compiled (docs/analytics.md); a
    time series calls the summary per bucket, so each setting is sent once, not per call."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ARG001
        sent.append(statement)

    async with ctx.db.reading() as session:
        target = session.bind.sync_engine
        event.listen(target, "before_cursor_execute", record)
        try:
            for day in range(3):
                await queries.summary(session, queries.Filters(START + timedelta(days=day), START + timedelta(days=day + 1), ADMIN))
        finally:
            event.remove(target, "before_cursor_execute", record)
        settings = [s for s in sent if s.startswith("SET LOCAL work_mem")]
        without_jit = [s for s in sent if s.startswith("SET LOCAL jit")]
        if session.bind.dialect.name == "postgresql":
            assert len(settings) == 1 and len(without_jit) == 1 and len(sent) == 2 + 3 * 4
            assert await session.scalar(text("SHOW work_mem")) == short_periods.SORT_MEMORY
            assert await session.scalar(text("SHOW jit")) == "off"
        else:
            assert settings == without_jit == [] and len(sent) == 3 * 4
