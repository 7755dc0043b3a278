"""Reports (docs/analytics.md): summary, time series, operators and exports, for supervisors
(their teams' figures) and admins; operators get 403 (docs/access.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from okno.api.access import ManagerScope
from okno.api.deps import Ctx
from okno.kit.errors import Invalid
from okno.reports import export, queries, series
from okno.reports.periods import checked_period
from okno.reports.queries import Filters

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

From = Annotated[datetime, Query(alias="from", description="start of the period (ISO 8601 with a time zone), inclusive")]
To = Annotated[datetime, Query(alias="to", description="end of the period, exclusive")]
OptionalId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


def _filters(scope, start: datetime, end: datetime, team_id: int | None, channel_id: int | None, operator_id: int | None) -> Filters:  # noqa: ANN001
    start, end = checked_period(start, end)
    return Filters(start=start, end=end, scope=scope, team_id=team_id, channel_id=channel_id, operator_id=operator_id)


@router.get("/summary", summary="The period's figures (volume, FRT, resolution, FCR, repeat contacts, surveys, SLA, channels)")
async def summary(
    scope: ManagerScope, ctx: Ctx, start: From, end: To,
    team_id: OptionalId = None, channel_id: OptionalId = None, operator_id: OptionalId = None,
) -> dict:
    async with ctx.db.reading() as session:
        return await queries.summary(session, _filters(scope, start, end, team_id, channel_id, operator_id))


@router.get("/timeseries", summary="One figure per hour, day or week")
async def timeseries(
    scope: ManagerScope, ctx: Ctx, start: From, end: To,
    metric: Annotated[str, Query(max_length=40)], interval: Annotated[str, Query(max_length=8)] = "day",
    team_id: OptionalId = None, channel_id: OptionalId = None, operator_id: OptionalId = None,
) -> dict:
    async with ctx.db.reading() as session:
        return await series.timeseries(session, _filters(scope, start, end, team_id, channel_id, operator_id), metric, interval)


@router.get("/operators", summary="Per operator: handled, first response, resolution, CSAT, load")
async def operators(scope: ManagerScope, ctx: Ctx, start: From, end: To, team_id: OptionalId = None, channel_id: OptionalId = None) -> dict:
    async with ctx.db.reading() as session:
        return {"items": await queries.operators(session, _filters(scope, start, end, team_id, channel_id, None))}


@router.get("/conversations", summary="The conversations behind a figure (drill-down), newest first, at most 200")
async def conversations(
    scope: ManagerScope, ctx: Ctx, start: From, end: To, which: Annotated[str, Query(max_length=20)] = "opened",
    team_id: OptionalId = None, channel_id: OptionalId = None, operator_id: OptionalId = None,
) -> dict:
    if which not in queries.DRILLS:
        raise Invalid("which must be one of %(drills)s", drills=', '.join(queries.DRILLS))
    async with ctx.db.reading() as session:
        return {"items": await queries.drill_down(session, _filters(scope, start, end, team_id, channel_id, operator_id), which)}


@router.get("/export", summary="A report as CSV or XLSX, streamed")
async def export_report(
    scope: ManagerScope, ctx: Ctx, start: From, end: To,
    report: Annotated[str, Query(max_length=20)], format: Annotated[str, Query(max_length=8)] = "csv",  # noqa: A002
    team_id: OptionalId = None, channel_id: OptionalId = None, operator_id: OptionalId = None,
) -> StreamingResponse:
    export.checked(report, format)
    filters = _filters(scope, start, end, team_id, channel_id, operator_id)

    async def rows() -> AsyncIterator[tuple]:
        async with ctx.db.reading() as session:
            async for row in export.rows_of(session, report, filters):
                yield row

    body = export.csv_stream(rows()) if format == "csv" else export.xlsx_stream(rows(), report)
    name = f"okno-{report}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{format}"
    return StreamingResponse(body, media_type=export.FORMATS[format], headers={"content-disposition": f'attachment; filename="{name}"'})
