"""Time series: one figure of the summary per bucket, computed by the same queries."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Awaitable, Callable
from datetime import datetime
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.errors import Invalid
from okno.reports import queries
from okno.reports.periods import INTERVALS, buckets
from okno.reports.queries import RC, Filters


async def _count(session: AsyncSession, where: list) -> int:
    from sqlalchemy import func, select

    return await session.scalar(select(func.count()).select_from(RC).where(*where))


async def _summary_value(session: AsyncSession, f: Filters, pick: Callable[[dict], Any]) -> Any:
    return pick(await queries.summary(session, f))


def _from_summary(pick: Callable[[dict], Any]) -> Callable[[AsyncSession, Filters], Awaitable[Any]]:
    async def metric(session: AsyncSession, f: Filters) -> Any:
        return await _summary_value(session, f, pick)

    return metric


async def _frt(session: AsyncSession, f: Filters) -> Any:
    return await queries.duration_stats(session, f, 0)


async def _resolution(session: AsyncSession, f: Filters) -> Any:
    return await queries.duration_stats(session, f, 1)


async def _surveys(session: AsyncSession, f: Filters) -> Any:
    return await queries.survey_scores(session, f)


METRICS: dict[str, Callable[[AsyncSession, Filters], Awaitable[Any]]] = {
    "conversations": lambda s, f: _count(s, queries.opened_in(f)),
    "resolved": lambda s, f: _count(s, queries.resolved_in(f)),
    "frt": _frt,  # the summary's frt object per bucket
    "resolution": _resolution,
    "fcr_rate": lambda s, f: _rate(s, f, 1),
    "repeat_contact_rate": lambda s, f: _rate(s, f, 2),
    "csat": lambda s, f: _pick(_surveys(s, f), "csat"),
    "nps": lambda s, f: _pick(_surveys(s, f), "nps"),
    "ces": lambda s, f: _pick(_surveys(s, f), "ces"),
    "survey_response_rate": lambda s, f: queries.survey_response_rates(s, f),
    "sla": _from_summary(lambda d: d["sla"]),
    "channel_share": lambda s, f: _channel_share(s, f),
}


async def _channel_share(session: AsyncSession, f: Filters) -> Any:
    return (await queries.channels(session, queries.opened_in(f)))["channel_share"]


async def _rate(session: AsyncSession, f: Filters, index: int) -> float | None:
    return (await queries.resolution_rates(session, queries.resolved_in(f)))[index]


async def _pick(found: Awaitable[dict], key: str) -> Any:
    return (await found)[key]


async def _counts(
    session: AsyncSession, f: Filters, metric: str, interval: str, spans: list[tuple[datetime, datetime]]
) -> list[int]:
    """Volume per bucket from one query, not one query a bucket: PostgreSQL counts per bucket number
    (whole steps since ``from``; only the last bucket can be shorter, and nothing lies past ``to``);
    SQLite returns the moments and they are counted into buckets here."""
    from sqlalchemy import func, select

    column = RC.opened_at if metric == "conversations" else RC.resolved_at
    where = queries.opened_in(f) if metric == "conversations" else queries.resolved_in(f)
    counts = [0] * len(spans)
    if session.bind.dialect.name == "postgresql":
        number = func.floor(func.extract("epoch", column - f.start) / INTERVALS[interval].total_seconds())
        for index, n in await session.execute(select(number, func.count()).where(*where).group_by(number)):
            counts[int(index)] += n
        return counts
    starts = [a for a, _ in spans]
    for (moment,) in await session.execute(select(column).where(*where)):
        counts[bisect_right(starts, moment) - 1] += 1
    return counts


async def timeseries(session: AsyncSession, f: Filters, metric: str, interval: str) -> dict[str, Any]:
    compute = METRICS.get(metric)
    if compute is None:
        raise Invalid("metric must be one of %(metrics)s", metrics=', '.join(METRICS))
    spans = list(buckets(f.start, f.end, interval))
    if metric in ("conversations", "resolved"):
        values = await _counts(session, f, metric, interval, spans)
        points = [{"from": a.isoformat(), "to": b.isoformat(), "value": n} for (a, b), n in zip(spans, values, strict=True)]
        return {"metric": metric, "interval": interval, "points": points}
    points = [
        {"from": a.isoformat(), "to": b.isoformat(), "value": await compute(session, replace(f, start=a, end=b))}
        for a, b in spans
    ]
    return {"metric": metric, "interval": interval, "points": points}
