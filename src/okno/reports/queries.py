"""The report figures, read from the projection's tables (``models/reports.py``) only.

Period rules (docs/analytics.md): a conversation counts in a period for volume, first response,
channel share, first touch and first-response SLA by when it **opened**; for resolution, FCR,
repeat contacts and resolution SLA by when it was (last) **resolved**; a survey by when its
conversation was resolved. Periods are half-open, ``[from, to)``. Rates are as of the request:
a repeat contact linked today turns yesterday's FCR into a repeat. A figure with no data is
``None`` (JSON null), never 0. Durations are whole seconds; averages round half up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import union_all, ColumnElement, case, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import member_teams
from okno.models import Operator, ReportConversation, ReportConversationChannel, ReportRollupSurveys, ReportSurvey
from okno.reports import figures, short_periods
from okno.reports.figures import PeriodReader, average, channel_groups, rule_figures, span_of

RC, RS, RSU = ReportConversation, ReportSurvey, ReportRollupSurveys
SURVEY_KINDS = ("csat", "nps", "ces")


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    scope: Scope
    team_id: int | None = None
    channel_id: int | None = None
    operator_id: int | None = None


def _visible(scope: Scope, team: Any, operator: Any, *, no_team: int | None = None) -> ColumnElement[bool]:
    """The access rule for conversations, on the projection's copies of team and assignee
    (``no_team``: the value that stands for none, the rollups' 0)."""
    if scope.sees_everything:
        return true()
    allowed = [team.in_(member_teams(scope)), operator == scope.operator_id]
    if scope.sees_unteamed:
        allowed.append(team.is_(None) if no_team is None else team == no_team)
    return or_(*allowed)


def fact_filter(f: Filters) -> list[ColumnElement[bool]]:
    where = [_visible(f.scope, RC.team_id, RC.operator_id)]
    if f.team_id is not None:
        where.append(RC.team_id == f.team_id)
    if f.operator_id is not None:
        where.append(RC.operator_id == f.operator_id)
    if f.channel_id is not None:
        used = ReportConversationChannel
        where.append(RC.conversation_id.in_(select(used.conversation_id).where(used.channel_id == f.channel_id)))
    return where


def cell_filter(f: Filters) -> Any:  # noqa: ANN401
    """The access rule and the filters on a rollup table's team and assignee (0: none)."""

    def where(table: Any) -> list[ColumnElement[bool]]:  # noqa: ANN401
        out = [_visible(f.scope, table.team_id, table.operator_id, no_team=0)]
        if f.team_id is not None:
            out.append(table.team_id == f.team_id)
        if f.operator_id is not None:
            out.append(table.operator_id == f.operator_id)
        return out

    return where


def fact_cells(f: Filters) -> Any:  # noqa: ANN401
    """``cell_filter`` on the facts' rollups, and their channel cell: 0 (every conversation), or
    the conversations that used the ``channel_id`` filter's channel — the fact filter's rows."""
    on_team_and_assignee = cell_filter(f)

    def where(table: Any) -> list[ColumnElement[bool]]:  # noqa: ANN401
        return [*on_team_and_assignee(table), table.channel_id == (0 if f.channel_id is None else f.channel_id)]

    return where


def use_filter(f: Filters) -> list[ColumnElement[bool]]:
    """``fact_filter`` with the channel filter, on the channel rows' copies of team and assignee."""
    used = ReportConversationChannel
    where = [_visible(f.scope, used.team_id, used.operator_id), used.channel_id == f.channel_id]
    if f.team_id is not None:
        where.append(used.team_id == f.team_id)
    if f.operator_id is not None:
        where.append(used.operator_id == f.operator_id)
    return where


def facts_between(f: Filters) -> Any:  # noqa: ANN401
    """``fact_filter`` for the facts whose ``stamp`` (``opened_at``, ``resolved_at``) is in ``[a, b)``;
    the channel filter's subquery is narrowed to the channel rows whose copy of that stamp is in it
    too (the copies equal the facts': the same rows, without reading every row of the channel)."""

    def where(stamp: str, a: datetime, b: datetime) -> list[ColumnElement[bool]]:
        out = [*fact_filter(replace(f, channel_id=None)), getattr(RC, stamp) >= a, getattr(RC, stamp) < b]
        if f.channel_id is not None:
            used = ReportConversationChannel
            out.append(RC.conversation_id.in_(
                select(used.conversation_id).where(used.channel_id == f.channel_id, getattr(used, stamp) >= a, getattr(used, stamp) < b)
            ))  # fmt: skip
        return out

    return where


def period_reader(session: AsyncSession, f: Filters) -> PeriodReader:
    values = (RC, fact_filter(f)) if f.channel_id is None else (ReportConversationChannel, use_filter(f))
    return PeriodReader(session, f.start, f.end, span_of(f.start, f.end), fact_cells(f), facts_between(f), values)


def survey_filter(f: Filters) -> list[ColumnElement[bool]]:
    return [*_survey_scope(f), RS.period_at >= f.start, RS.period_at < f.end]


def _survey_scope(f: Filters) -> list[ColumnElement[bool]]:
    where = [_visible(f.scope, RS.team_id, RS.operator_id)]
    for column, value in ((RS.team_id, f.team_id), (RS.channel_id, f.channel_id), (RS.operator_id, f.operator_id)):
        if value is not None:
            where.append(column == value)
    return where


SURVEY_SUMS = (
    func.count(RS.score), func.coalesce(func.sum(case((RS.score >= 4, 1), else_=0)), 0),
    func.coalesce(func.sum(case((RS.score >= 9, 1), else_=0)), 0), func.coalesce(func.sum(case((RS.score <= 6, 1), else_=0)), 0),
    func.coalesce(func.sum(RS.score), 0),
)  # fmt: skip


async def _survey_sums(session: AsyncSession, f: Filters) -> dict[str, tuple[int, ...]]:
    """Per kind: answers, satisfied (4+), promoters (9+), detractors (6−), the scores' total — whole
    months from ``report_rollup_surveys`` (it has the channel: any filter), the rest from the rows."""
    span = span_of(f.start, f.end)
    parts = []
    if span.months:
        first, last = span.months
        channel = [] if f.channel_id is None else [RSU.channel_id == f.channel_id]
        parts.append(select(RSU.kind, RSU.responses, RSU.satisfied, RSU.promoters, RSU.detractors, RSU.score_total)
                     .where(RSU.month >= first, RSU.month < last, *cell_filter(f)(RSU), *channel))  # fmt: skip
    for a, b in span.edges:
        parts.append(select(RS.kind, *SURVEY_SUMS).where(*_survey_scope(f), RS.period_at >= a, RS.period_at < b).group_by(RS.kind))
    every = union_all(*parts).subquery()
    rows = await session.execute(select(every.c[0], *(func.sum(c) for c in list(every.c)[1:])).group_by(every.c[0]))
    return {kind: tuple(int(v) for v in values) for kind, *values in rows}


def opened_in(f: Filters) -> list[ColumnElement[bool]]:
    return facts_between(f)("opened_at", f.start, f.end)


def resolved_in(f: Filters) -> list[ColumnElement[bool]]:
    return facts_between(f)("resolved_at", f.start, f.end)


def ratio(part: int, whole: int, digits: int = 4) -> float | None:
    return None if whole == 0 else round(part / whole, digits)


async def _rule_figures(session: AsyncSession, f: Filters, reader: PeriodReader, rules: tuple[int, ...]) -> dict:
    """Per rule: its additive figures and duration object — from the rollups and one bucket's rows
    when the period holds a whole month, else from one sorting statement per rule (``short_periods``)."""
    if reader.span.months is None:
        return await short_periods.rule_figures(session, {rule: (opened_in(f) if rule == 0 else resolved_in(f)) for rule in rules})
    return await rule_figures(reader, rules)


async def duration_stats(session: AsyncSession, f: Filters, rule: int) -> dict[str, int | None]:
    """The FRT (rule 0: conversations opened in the period) or resolution (1: resolved in it) object."""
    return (await _rule_figures(session, f, period_reader(session, f), (rule,)))[rule][1]


def _sla_of(met: Any, missed: Any) -> dict[str, Any]:
    met, missed = int(met), int(missed)
    return {"met": met, "missed": missed, "rate": ratio(met, met + missed)}


FCR = figures.FCR


async def _without_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT compilation in this transaction (once per transaction; a time series
    calls the summary per bucket). Its statements are short, but with partial months and the
    channel filter their estimated cost passes ``jit_above_cost``, and compiling took about 0.4 s
    of a 1.4 s unaligned year's summary on the bulk base (docs/analytics.md)."""
    await session.connection()  # the transaction begins here if it has not yet
    transaction = session.get_transaction()
    if session.bind.dialect.name == "postgresql" and session.info.get("without_jit") is not transaction:
        await session.execute(text("SET LOCAL jit = off"))
        session.info["without_jit"] = transaction


async def summary(session: AsyncSession, f: Filters) -> dict[str, Any]:
    """A period holding a whole UTC month: whole months from the rollups, the rest from the facts
    (``figures.py``): one statement of every additive figure of both period rules, one of the
    duration histograms, one of the six percentiles' values (each read from the one bucket holding
    its rank), one of the channel-kind groups and one of the survey answers — five statements on
    either database. A shorter period: one sorting statement per rule (``short_periods.py``, and a
    ``SET LOCAL`` of the sorts' memory on PostgreSQL), the channel groups and the surveys — four."""
    await _without_jit(session)
    reader = period_reader(session, f)
    (opened, frt), (resolved, resolution) = (await _rule_figures(session, f, reader, (0, 1))).values()
    return {
        "conversations": opened.conversations,
        "resolved": resolved.conversations,
        "frt": frt,
        "resolution": resolution,
        "fcr_rate": ratio(resolved.fcr, resolved.conversations),
        "repeat_contact_rate": ratio(resolved.repeats, resolved.conversations),
        **await survey_scores(session, f),
        "sla": {"first_response": _sla_of(opened.sla_met, opened.sla_missed), "resolution": _sla_of(resolved.sla_met, resolved.sla_missed)},
        **channel_figures(await channel_groups(reader)),
    }


async def resolution_rates(session: AsyncSession, resolved: list) -> tuple[int, float | None, float | None]:
    """Resolved conversations, their FCR rate and their repeat-contact rate (as of now)."""
    n_resolved, n_fcr, n_repeat = (await session.execute(select(
        func.count(),
        func.coalesce(func.sum(case((FCR, 1), else_=0)), 0),
        func.coalesce(func.sum(case((RC.repeat_contact_id.is_not(None), 1), else_=0)), 0),
    ).where(*resolved))).one()
    return n_resolved, ratio(int(n_fcr), n_resolved), ratio(int(n_repeat), n_resolved)


async def survey_scores(session: AsyncSession, f: Filters) -> dict[str, dict[str, Any]]:
    found = await _survey_sums(session, f)
    out: dict[str, dict[str, Any]] = {}
    for kind in SURVEY_KINDS:
        answered, satisfied, promoters, detractors, total = found.get(kind, (0, 0, 0, 0, 0))
        score: float | None = None
        if answered:
            score = {
                "csat": round(100 * satisfied / answered, 2),
                "nps": round(100 * (promoters - detractors) / answered, 2),
                "ces": round(total / answered, 2),
            }[kind]
        out[kind] = {"responses": answered, "score": score}
    return out


async def survey_response_rates(session: AsyncSession, f: Filters) -> dict[str, float | None]:
    """Answered ÷ sent per kind, among surveys sent (a survey whose ``survey.sent`` never came is left out)."""
    rows = await session.execute(
        select(RS.kind, func.count(RS.sent_at), func.count(case((RS.sent_at.is_not(None), RS.score)))).where(*survey_filter(f)).group_by(RS.kind)
    )
    found = {kind: (int(sent), int(answered)) for kind, sent, answered in rows}
    return {kind: ratio(found.get(kind, (0, 0))[1], found.get(kind, (0, 0))[0]) for kind in SURVEY_KINDS}


async def channels(session: AsyncSession, opened: list) -> dict[str, dict[str, Any]]:
    """Channel share and first touch from one grouped read of the period's openings: a count per
    (first-touch kind, set of kinds used); a conversation on two kinds counts in both shares."""
    rows = (await session.execute(
        select(RC.first_channel_kind, RC.channel_kinds, func.count()).where(*opened)
        .group_by(RC.first_channel_kind, RC.channel_kinds)
    )).all()  # fmt: skip
    return channel_figures(rows)


def channel_figures(rows: Any) -> dict[str, dict[str, Any]]:  # noqa: ANN401
    """Channel share and first touch from the openings' counts per (first kind, set of kinds)."""
    conversations = sum(n for *_, n in rows)  # each opening is in exactly one group
    used: dict[str, int] = {}
    first: dict[str, int] = {}
    for first_kind, kinds, n in rows:
        if first_kind is not None:
            first[first_kind] = first.get(first_kind, 0) + n
        for kind in set(kinds.split(",")) if kinds else ():
            used[kind] = used.get(kind, 0) + n
    return {
        "channel_share": {kind: {"conversations": n, "share": ratio(n, conversations)} for kind, n in sorted(used.items())},
        "first_touch": {kind: first[kind] for kind in sorted(first)},
    }


async def operators(session: AsyncSession, f: Filters) -> list[dict[str, Any]]:
    """Per operator: conversations handled (resolved in the period while assigned to him), his
    first responses (conversations opened in the period), resolution, CSAT, and load (open
    conversations assigned to him now)."""
    resolved = resolved_in(f)
    handled = {
        op: (n, total, business) for op, n, total, business in await session.execute(
            select(RC.operator_id, func.count(), func.sum(RC.resolution_seconds), func.sum(RC.resolution_business_seconds))
            .where(*resolved, RC.operator_id.is_not(None)).group_by(RC.operator_id)
        )
    }
    first = {
        op: (n, total, business) for op, n, total, business in await session.execute(
            select(RC.first_responder_id, func.count(), func.sum(RC.frt_seconds), func.sum(RC.frt_business_seconds))
            .where(*opened_in(f), RC.first_responder_id.is_not(None)).group_by(RC.first_responder_id)
        )
    }
    csat = {
        op: (n, good) for op, n, good in await session.execute(
            select(RS.operator_id, func.count(RS.score), func.sum(case((RS.score >= 4, 1), else_=0)))
            .where(*survey_filter(f), RS.kind == "csat", RS.score.is_not(None), RS.operator_id.is_not(None)).group_by(RS.operator_id)
        )
    }
    load = dict((await session.execute(
        select(RC.operator_id, func.count()).where(*fact_filter(f), RC.open_since.is_not(None), RC.operator_id.is_not(None)).group_by(RC.operator_id)
    )).all())
    ids = sorted(set(handled) | set(first) | set(csat) | set(load))
    names = dict((await session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(ids)))).all()) if ids else {}
    rows = []
    for op in ids:
        h, r, c = handled.get(op), first.get(op), csat.get(op)
        rows.append({
            "operator_id": op,
            "name": names.get(op),
            "handled": h[0] if h else 0,
            "frt": {"count": r[0], "avg_seconds": average(int(r[1]), r[0]), "business_avg_seconds": average(int(r[2]), r[0])} if r else {"count": 0, "avg_seconds": None, "business_avg_seconds": None},
            "resolution": {"count": h[0], "avg_seconds": average(int(h[1]), h[0]), "business_avg_seconds": average(int(h[2]), h[0])} if h else {"count": 0, "avg_seconds": None, "business_avg_seconds": None},
            "csat": {"responses": c[0], "score": round(100 * int(c[1]) / c[0], 2)} if c else {"responses": 0, "score": None},
            "load": load.get(op, 0),
        })
    return rows


DRILLS = ("opened", "resolved", "fcr", "repeat", "reopened", "transferred", "sla_missed")
DRILL_LIMIT = 200


async def drill_down(session: AsyncSession, f: Filters, which: str) -> list[dict[str, Any]]:
    """The conversations behind a figure (newest first, at most ``DRILL_LIMIT``)."""
    where = {
        "opened": opened_in(f),
        "resolved": resolved_in(f),
        "fcr": [*resolved_in(f), RC.reopened == 0, RC.transferred.is_(False), RC.repeat_contact_id.is_(None)],
        "repeat": [*resolved_in(f), RC.repeat_contact_id.is_not(None)],
        "reopened": [*resolved_in(f), RC.reopened > 0],
        "transferred": [*resolved_in(f), RC.transferred.is_(True)],
        "sla_missed": [*opened_in(f), RC.sla_first_response == "missed"],
    }[which]
    rows = await session.execute(
        select(RC.conversation_id, RC.first_channel_kind, RC.opened_at, RC.resolved_at, RC.frt_seconds, RC.frt_business_seconds, RC.reason, RC.repeat_contact_id)
        .where(*where).order_by(RC.opened_at.desc(), RC.conversation_id.desc()).limit(DRILL_LIMIT)
    )
    return [
        {"conversation_id": r[0], "first_channel_kind": r[1], "opened_at": r[2], "resolved_at": r[3], "frt_seconds": r[4],
         "frt_business_seconds": r[5], "reason": r[6], "repeat_contact_id": r[7]}
        for r in rows
    ]
