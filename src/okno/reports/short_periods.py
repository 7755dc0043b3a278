"""A period without a whole UTC month (nothing to read from the rollups): one statement per period
rule over its fact rows carries the counts, sums, SLA verdicts and the nearest-rank percentiles,
computed by sorting the period's durations inside the database — for a day's or a few weeks'
rows that is cheaper than the histogram's three statements (``figures.py``), whose bucket reads
scan a bucket's rows of every month."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Select, and_, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import ClauseAdapter

from okno.models import ReportConversation
from okno.reports.figures import FCR, RANKS, RULES, RuleFigures, flag_sum, nearest_rank, stats_of

RC = ReportConversation


def period_figures(session: AsyncSession, wall: Any, business: Any, where: list, extras: list) -> Select:
    """One statement over a period's fact rows: ``count(*)``, the given ``extras`` (aggregates of
    fact columns), then count, sums and nearest-rank percentiles (p50, p90 of ``wall``, p50 of
    ``business``) of the rows where ``wall`` is set. PostgreSQL: ``percentile_disc`` (the
    ⌈fraction·n⌉-th smallest value, exactly the nearest rank) in the same aggregate; SQLite, which
    has no ordered-set aggregates: ``row_number()`` over each ordering in a subquery, and the value
    whose row number is the rank picked by the outer aggregate — one scan and one sort per column,
    not one ordered read per percentile."""
    if session.bind.dialect.name == "postgresql":
        return select(
            func.count(), *extras, func.count(wall), func.sum(wall), func.sum(business),
            func.percentile_disc(0.5).within_group(wall), func.percentile_disc(0.9).within_group(wall),
            func.percentile_disc(0.5).within_group(business),
        ).where(*where)  # fmt: skip
    wall, business, extras = wall.expression, business.expression, [e.expression for e in extras]  # ORM attributes → columns
    unset = wall.is_(None)  # ordered last, so the set values hold row numbers 1..n
    ranked = select(
        *_columns_in([wall, business, *extras]),
        func.row_number().over(order_by=(unset, wall)).label("wall_rank"),
        func.row_number().over(order_by=(unset, business)).label("business_rank"),
        func.count(wall).over().label("measured"),
    ).where(*where).subquery()  # fmt: skip
    on = ClauseAdapter(ranked)
    w, b, n = on.traverse(wall), on.traverse(business), ranked.c.measured
    picked = [
        func.max(case((and_(w.is_not(None), ranked.c.wall_rank == nearest_rank(n, RANKS[0])), w))),
        func.max(case((and_(w.is_not(None), ranked.c.wall_rank == nearest_rank(n, RANKS[1])), w))),
        func.max(case((and_(w.is_not(None), ranked.c.business_rank == nearest_rank(n, RANKS[0])), b))),
    ]
    return select(func.count(), *(on.traverse(e) for e in extras), func.count(w), func.sum(w), func.sum(b), *picked).select_from(
        ranked
    )


def _columns_in(expressions: list) -> list:
    """The fact table's columns the expressions read (what the SQLite subquery must carry)."""
    found: dict[str, Any] = {}
    for expression in expressions:
        for element in visitors.iterate(expression):
            if isinstance(element, Column) and element.table is RC.__table__:
                found.setdefault(element.key, RC.__table__.c[element.key])
    return list(found.values())


# PostgreSQL: memory for the summary's percentile sorts (two per period rule, up to this much
# each) so a year's million durations are sorted in memory, not spilled to temporary files
# (a year's FRT aggregate: 1.8 s → 1.2 s on the bulk base, docs/analytics.md); a month's fit in
# the default 4 MB anyway
SORT_MEMORY = "32MB"


async def _sort_in_memory(session: AsyncSession) -> None:
    """Once per session (a time series calls the summary per bucket), for its transaction only."""
    if session.bind.dialect.name == "postgresql" and not session.info.get("sort_memory"):
        await session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
        session.info["sort_memory"] = True


async def rule_figures(session: AsyncSession, wheres: dict[int, list]) -> dict[int, tuple[RuleFigures, dict[str, int | None]]]:
    """Per rule (0: the openings' ``where``, 1: the resolutions'): its additive figures and its
    duration object, one statement each."""
    await _sort_in_memory(session)
    out = {}
    for rule, where in wheres.items():
        _stamp, wall, business, sla = RULES[rule]
        extras = [flag_sum(sla == "met"), flag_sum(sla == "missed"), *([flag_sum(FCR), flag_sum(RC.repeat_contact_id.is_not(None))] if rule else [])]
        row = (await session.execute(period_figures(session, wall, business, where, extras))).one()
        met, missed, fcr, repeats = (*row[1:3], *(row[3:5] if rule else (0, 0)))
        values = row[5:] if rule else row[3:]
        count, total, business_total = values[0], values[1] or 0, values[2] or 0
        figures = RuleFigures(
            int(row[0]), int(count), int(total), int(business_total), int(met), int(missed), int(fcr), int(repeats)
        )
        out[rule] = (figures, stats_of(values))
    return out
