"""The reports page for supervisors and admins: KPI tiles beside the previous period, charts,
the operator table, drill-down to the inbox and the export buttons. The page's script reads the
reports API (``/api/v1/reports/*``) with the session cookie; nothing is computed here."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from okno.access import Scope
from okno.api.deps import Ctx, ReadSession
from okno.kit.time import utcnow
from okno.models import Channel, Operator, Team
from okno.operators.time_zones import zone_of
from okno.reports.periods import MAX_DAYS
from okno.web.pages import PageOperator, render, translator_for

router = APIRouter(include_in_schema=False)


def _day(value: str | None, fallback: date) -> date:
    """A date from the form; a bad one, or one too near the ends of the calendar, is the fallback."""
    try:
        day = date.fromisoformat(value) if value else fallback
    except ValueError:
        return fallback
    return day if date(1971, 1, 1) <= day <= date(9998, 12, 1) else fallback


@router.get("/reports")
async def reports(request: Request, operator: PageOperator, session: ReadSession, ctx: Ctx) -> Response:
    t = translator_for(request, operator)
    if not Scope.of(operator, ctx.settings).manages:
        return render(request, "error.html", operator, status_code=403, title=t.gettext("Not available"),
                      message=t.gettext("This page is for supervisors and administrators."))
    # the period's days, the charts' day labels and the heat map's hours are the operator's own
    # time zone's (his profile's, else the installation's default)
    local = zone_of(operator.time_zone, ctx.settings.default_time_zone)
    today = utcnow().astimezone(local).date()
    first = _day(request.query_params.get("from"), today - timedelta(days=6))
    last = max(_day(request.query_params.get("to"), today), first)
    first = max(first, last - timedelta(days=MAX_DAYS - 1))  # the reports API's longest period
    start = datetime.combine(first, datetime.min.time(), local)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), local)
    filters = {key: request.query_params.get(key) or "" for key in ("team_id", "channel_id", "operator_id")}
    filters = {key: value for key, value in filters.items() if value.isdigit()}
    page = {
        "from": start.isoformat(), "to": end.isoformat(), "previous_from": (start - (end - start)).isoformat(),
        "filters": filters, "time_zone": local.key,
        "labels": {
            "frt": t.gettext("First response, average"), "frt_business": t.gettext("First response, business time"),
            "resolution": t.gettext("Resolution, average"), "csat": "CSAT", "nps": "NPS", "ces": "CES",
            "repeat": t.gettext("Repeat contact rate"), "fcr": t.gettext("FCR"), "conversations": t.gettext("Conversations"),
            "previous": t.gettext("previous period"), "no_data": t.gettext("no data"), "met": t.gettext("met"), "missed": t.gettext("missed"),
            "first_response": t.gettext("First response"), "resolution_target": t.gettext("Resolution"),
            "weekdays": [t.gettext(d) for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")],
        },
    }
    return render(
        request, "reports.html", operator, page=page, first=first.isoformat(), last=last.isoformat(), filters=filters,
        teams=list(await session.execute(select(Team.id, Team.name).order_by(Team.name))),
        channels=list(await session.execute(select(Channel.id, Channel.name, Channel.kind).order_by(Channel.name))),
        operators=list(await session.execute(select(Operator.id, Operator.name).where(Operator.is_active.is_(True)).order_by(Operator.name))),
    )
