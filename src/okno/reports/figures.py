"""A period's figures from the rollups (whole UTC months) and the facts (the rest), exactly.

``span_of`` splits ``[from, to)`` into the whole months inside it, read from the monthly rollups
(``okno.reports.rollups``), and at most two partial months at its ends, read from the fact rows.
A period without a whole month has no months here and is read by ``short_periods`` instead
(``queries._rule_figures``). The ``channel_id`` filter reads that channel's cells of the rollups
(a conversation is in the cells of every channel it used, as the facts' filter keeps it) and the
facts through ``report_conversation_channels``. With months, three statements answer:

1. ``additive``: per period rule, the conversations, measured ones, wall and business sums, SLA
   verdicts, FCR and repeat contacts — the rollup rows' sums plus the facts' aggregates;
2. ``histograms``: per duration measure and bucket, how many values — likewise;
3. ``_pick``: each nearest-rank percentile (the ⌈f·n⌉-th smallest value) is in the bucket where
   the running count first reaches its rank; one ordered read of that bucket's facts in the period
   (the duration's index: ``value`` within the bucket's bounds, then ``opened_at``/``resolved_at``)
   skips to the rank within the bucket — with the channel filter, of that channel's rows in
   ``report_conversation_channels``, which carry a copy of their fact's durations, stamps, team and
   assignee (an index per duration led by the channel). The six percentiles of a summary are one
   statement.

No row of a period is sorted or returned, only the rows of one bucket are read per percentile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import ReportConversation, ReportRollup, ReportRollupChannels, ReportRollupDurations
from okno.reports.rollups import MEASURES, THRESHOLDS, bucket_bounds, month_of, month_start

RC, RU, RCH, RD = ReportConversation, ReportRollup, ReportRollupChannels, ReportRollupDurations
RANKS = ((1, 2), (9, 10))  # p50 and p90: the nearest rank is ⌈num·n / den⌉, in integers
# per rule: its timestamp, wall and business durations, SLA verdict; and the measures of its histograms
RULES: dict[int, tuple[Any, Any, Any, Any]] = {
    0: (RC.opened_at, RC.frt_seconds, RC.frt_business_seconds, RC.sla_first_response),
    1: (RC.resolved_at, RC.resolution_seconds, RC.resolution_business_seconds, RC.sla_resolution),
}
MEASURES_OF = {0: (0, 1), 1: (2, 3)}  # rule → (wall measure, business measure)
STAT_KEYS = ("avg_seconds", "p50_seconds", "p90_seconds", "business_avg_seconds", "business_p50_seconds")
FCR = and_(RC.reopened == 0, RC.transferred.is_(False), RC.repeat_contact_id.is_(None))


@dataclass(frozen=True)
class Span:
    months: tuple[int, int] | None  # [first, last) month keys read from the rollups
    edges: tuple[tuple[datetime, datetime], ...]  # the rest of the period, read from the facts


def span_of(start: datetime, end: datetime) -> Span:
    first = month_of(start) + (1 if month_start(month_of(start)) < start else 0)
    last = month_of(end)  # the month `end` falls in: the months before it end by `end`
    if first < last:
        edges = ((start, month_start(first)), (month_start(last), end))
        return Span((first, last), tuple((a, b) for a, b in edges if a < b))
    return Span(None, ((start, end),))


@dataclass(frozen=True)
class RuleFigures:
    conversations: int
    measured: int
    wall_seconds: int
    business_seconds: int
    sla_met: int
    sla_missed: int
    fcr: int
    repeats: int


def average(total: int, count: int) -> int:
    """Half up, in integers (no float rounding surprises)."""
    return (2 * total + count) // (2 * count)


def flag_sum(condition: ColumnElement[bool]) -> Any:  # noqa: ANN401
    """How many rows meet the condition (0 for none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _fact_sums(rule: int) -> list:
    _stamp, wall, business, sla = RULES[rule]
    return [
        func.count(), func.count(wall), func.coalesce(func.sum(wall), 0), func.coalesce(func.sum(business), 0),
        flag_sum(sla == "met"), flag_sum(sla == "missed"),
        flag_sum(FCR) if rule else literal(0), flag_sum(RC.repeat_contact_id.is_not(None)) if rule else literal(0),
    ]  # fmt: skip


def bucket_expression(column: Any, dialect: str) -> Any:  # noqa: ANN401
    """The SQL bucket of a duration: the number of ``THRESHOLDS`` at or below it (as the triggers)."""
    if dialect == "postgresql":
        return func.width_bucket(column, literal_column(f"ARRAY[{', '.join(map(str, THRESHOLDS))}]::int[]"))
    return case(*((column >= low, b) for b, low in reversed(list(enumerate(THRESHOLDS, 1)))), else_=0)


class PeriodReader:
    """The three statements for one period and its filters (``cells``: the rollups' access rule and
    filters; ``facts``: the facts' filters for rows whose stamp — ``opened_at`` or ``resolved_at``
    — is in ``[a, b)``, stamp condition included; ``values``: the table whose rows a percentile's
    second step reads — the facts, or with the channel filter the channel rows' copies — and its
    filters)."""

    def __init__(self, session: AsyncSession, start: datetime, end: datetime, span: Span, cells: Any, facts: Any,  # noqa: ANN401
                 values: tuple[Any, list]) -> None:  # fmt: skip
        self.session, self.start, self.end, self.span = session, start, end, span
        self.cells, self.facts, self.values = cells, facts, values  # cells: table → its where clauses
        self.dialect = session.bind.dialect.name

    def months_where(self, table: Any) -> list:  # noqa: ANN401
        first, last = self.span.months
        return [table.month >= first, table.month < last, *self.cells(table)]

    async def additive(self, rules: tuple[int, ...]) -> dict[int, RuleFigures]:
        parts = []
        for rule in rules:
            stamp = RULES[rule][0]
            if self.span.months:
                columns = (
                    RU.conversations,
                    RU.measured,
                    RU.wall_seconds,
                    RU.business_seconds,
                    RU.sla_met,
                    RU.sla_missed,
                    RU.fcr,
                    RU.repeats,
                )
                parts.append(select(literal(rule).label("rule"), *(c.label(f"c{i}") for i, c in enumerate(columns)))
                             .where(RU.rule == rule, *self.months_where(RU)))  # fmt: skip
            for a, b in self.span.edges:
                parts.append(select(literal(rule).label("rule"), *(c.label(f"c{i}") for i, c in enumerate(_fact_sums(rule))))
                             .where(*self.facts(stamp.key, a, b)))  # fmt: skip
        both = union_all(*parts).subquery()
        rows = await self.session.execute(
            select(both.c.rule, *(func.coalesce(func.sum(both.c[f"c{i}"]), 0) for i in range(8))).group_by(both.c.rule)
        )
        found = {int(rule): RuleFigures(*(int(v) for v in values)) for rule, *values in rows}
        return {rule: found.get(rule, RuleFigures(0, 0, 0, 0, 0, 0, 0, 0)) for rule in rules}

    async def histograms(self, rules: tuple[int, ...]) -> dict[int, list[tuple[int, int]]]:
        """Per measure of the rules, (bucket, values in it) in bucket order."""
        measures = [m for rule in rules for m in MEASURES_OF[rule]]
        parts = []
        if self.span.months:
            parts.append(select(RD.measure, RD.bucket, RD.n).where(RD.measure.in_(measures), *self.months_where(RD)))
        for measure in measures:
            _m, column_name, stamp_name = MEASURES[measure]
            column = getattr(RC, column_name)
            bucket = bucket_expression(column, self.dialect)
            for a, b in self.span.edges:
                parts.append(select(literal(measure).label("measure"), bucket.label("bucket"), func.count().label("n"))
                             .where(*self.facts(stamp_name, a, b), column.is_not(None)).group_by(bucket))  # fmt: skip
        every = union_all(*parts).subquery()
        total = func.sum(every.c.n)
        rows = await self.session.execute(
            select(every.c.measure, every.c.bucket, total).group_by(every.c.measure, every.c.bucket).having(total > 0)
        )
        out: dict[int, list[tuple[int, int]]] = {m: [] for m in measures}
        for measure, bucket, n in rows:
            out[int(measure)].append((int(bucket), int(n)))
        return {m: sorted(pairs) for m, pairs in out.items()}


def stats_of(values: Any) -> dict[str, int | None]:  # noqa: ANN401
    """The duration object from (count, wall total, business total, p50, p90, business p50)."""
    count, total, business_total, p50, p90, business_p50 = values
    if not count:
        return {key: None for key in STAT_KEYS} | {"count": 0}
    return {
        "count": count,
        "avg_seconds": average(int(total), count),
        "p50_seconds": int(p50),
        "p90_seconds": int(p90),
        "business_avg_seconds": average(int(business_total), count),
        "business_p50_seconds": int(business_p50),
    }


def _locate(histogram: list[tuple[int, int]], rank: int) -> tuple[int, int] | None:
    """The bucket holding the rank-th smallest value and the rank within it."""
    below = 0
    for bucket, n in histogram:
        if below + n >= rank:
            return bucket, rank - below
        below += n
    return None


def nearest_rank(n: Any, fraction: tuple[int, int]) -> Any:  # noqa: ANN401
    """⌈num·n / den⌉ in integer arithmetic (no float rounding at the boundary): of a count, or as
    SQL of a count column (``short_periods``)."""
    num, den = fraction
    return (n * num + den - 1) // den


async def rule_figures(reader: PeriodReader, rules: tuple[int, ...]) -> dict[int, tuple[RuleFigures, dict[str, int | None]]]:
    """Per rule: its additive figures and the duration object (count, averages, percentiles)."""
    sums = await reader.additive(rules)
    histograms = await reader.histograms(rules)
    wanted: list[tuple[int, int]] = []
    for rule in rules:
        wall, business = MEASURES_OF[rule]
        n_wall, n_business = (sum(n for _b, n in histograms[m]) for m in (wall, business))
        wanted += [
            (wall, nearest_rank(n_wall, RANKS[0])),
            (wall, nearest_rank(n_wall, RANKS[1])),
            (business, nearest_rank(n_business, RANKS[0])),
        ]
    values = await _pick(reader, histograms, wanted)
    out = {}
    for index, rule in enumerate(rules):
        s = sums[rule]
        out[rule] = (s, stats_of((s.measured, s.wall_seconds, s.business_seconds, *values[3 * index : 3 * index + 3])))
    return out


async def _pick(
    reader: PeriodReader, histograms: dict[int, list[tuple[int, int]]], wanted: list[tuple[int, int]]
) -> list[int | None]:
    reads, out = [], [None] * len(wanted)
    for index, (measure, rank) in enumerate(wanted):
        located = _locate(histograms.get(measure, []), rank) if rank > 0 else None
        if located is None:
            continue
        bucket, within = located
        _m, column_name, stamp_name = MEASURES[measure]
        table, where = reader.values
        column, stamp = getattr(table, column_name), getattr(table, stamp_name)
        low, high = bucket_bounds(bucket)
        bounds = (
            [column.is_not(None)] + ([column >= low] if low is not None else []) + ([column < high] if high is not None else [])
        )
        one = (select(column.label("value")).where(*where, stamp >= reader.start, stamp < reader.end, *bounds)
               .order_by(column).offset(within - 1).limit(1).subquery())  # fmt: skip
        reads.append(select(literal(index).label("i"), one.c.value))
    if reads:
        for index, value in await reader.session.execute(union_all(*reads) if len(reads) > 1 else reads[0]):
            out[int(index)] = int(value)
    return out


async def channel_groups(reader: PeriodReader) -> list[tuple[str | None, str | None, int]]:
    """The period's openings per (first-touch kind, set of kinds used)."""
    parts = []
    if reader.span.months:
        parts.append(select(RCH.first_channel_kind.label("first"), RCH.channel_kinds.label("kinds"), RCH.conversations.label("n"))
                     .where(*reader.months_where(RCH)))  # fmt: skip
    first, kinds = func.coalesce(RC.first_channel_kind, ""), func.coalesce(RC.channel_kinds, "")
    for a, b in reader.span.edges:
        parts.append(select(first.label("first"), kinds.label("kinds"), func.count().label("n"))
                     .where(*reader.facts("opened_at", a, b)).group_by(first, kinds))  # fmt: skip
    every = union_all(*parts).subquery()
    total = func.sum(every.c.n)
    rows = await reader.session.execute(
        select(every.c.first, every.c.kinds, total).group_by(every.c.first, every.c.kinds).having(total > 0)
    )
    return [(first or None, kinds or None, int(n)) for first, kinds, n in rows]
