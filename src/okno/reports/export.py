"""Report exports as CSV or XLSX, streamed: rows are read in pages and written as they come.

Every text cell that a spreadsheet would take for a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading apostrophe, so a customer's comment
such as ``=HYPERLINK(…)`` stays text (CSV injection).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.errors import Invalid
from okno.reports import queries
from okno.reports.queries import RC, RS, Filters

REPORTS = ("summary", "operators", "conversations", "survey_answers")
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PAGE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CONVERSATION_COLUMNS = (
    "conversation_id", "customer_id", "team_id", "operator_id", "first_channel_kind", "opened_at", "first_response_at",
    "frt_seconds", "frt_business_seconds", "resolved_at", "resolution_seconds", "resolution_business_seconds",
    "reopened", "transferred", "reason", "repeat_contact_id", "sla_first_response", "sla_resolution",
)
SURVEY_COLUMNS = ("survey_id", "conversation_id", "kind", "score", "comment", "customer_id", "channel_id", "team_id", "operator_id", "sent_at", "answered_at")


def neutralised(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def checked(report: str, fmt: str) -> None:
    if report not in REPORTS:
        raise Invalid("report must be one of %(reports)s", reports=', '.join(REPORTS))
    if fmt not in FORMATS:
        raise Invalid("format must be one of %(formats)s", formats=', '.join(FORMATS))


async def rows_of(session: AsyncSession, report: str, f: Filters) -> AsyncIterator[tuple]:
    if report == "summary":
        yield ("figure", "value")
        for key, value in _flatten("", await queries.summary(session, f)):
            yield (key, value)
    elif report == "operators":
        yield ("operator_id", "name", "handled", "frt_avg_seconds", "frt_business_avg_seconds", "resolution_avg_seconds", "resolution_business_avg_seconds", "csat_responses", "csat_score", "load")
        for o in await queries.operators(session, f):
            yield (o["operator_id"], o["name"], o["handled"], o["frt"]["avg_seconds"], o["frt"]["business_avg_seconds"], o["resolution"]["avg_seconds"],
                   o["resolution"]["business_avg_seconds"], o["csat"]["responses"], o["csat"]["score"], o["load"])
    elif report == "conversations":
        yield CONVERSATION_COLUMNS
        columns = [getattr(RC, name) for name in CONVERSATION_COLUMNS]
        async for row in _pages(session, columns, RC.conversation_id, queries.opened_in(f)):
            yield row
    else:
        yield SURVEY_COLUMNS
        columns = [getattr(RS, name) for name in SURVEY_COLUMNS]
        async for row in _pages(session, columns, (RS.survey_id, RS.conversation_id), queries.survey_filter(f)):
            yield row


async def _pages(session: AsyncSession, columns: list, key: Any, where: list) -> AsyncIterator[tuple]:
    """Keyset pages, so a large range never sits in memory at once."""
    keys = key if isinstance(key, tuple) else (key,)
    after: tuple | None = None
    while True:
        query = select(*columns, *keys).where(*where)
        if after is not None:
            from sqlalchemy import tuple_

            query = query.where(tuple_(*keys) > tuple_(*after))
        rows = (await session.execute(query.order_by(*keys).limit(PAGE))).all()
        for row in rows:
            yield tuple(row[: len(columns)])
        if len(rows) < PAGE:
            return
        after = tuple(rows[-1][len(columns):])


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else key, inner)
    else:
        yield prefix, value


async def csv_stream(rows: AsyncIterator[tuple]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # spreadsheets then read UTF-8 (Cyrillic) correctly
    count = 0
    async for row in rows:
        writer.writerow([neutralised(v) for v in row])
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def xlsx_stream(rows: AsyncIterator[tuple], title: str) -> AsyncIterator[bytes]:
    """openpyxl's write-only workbook (rows go to disk as they come), then the file in chunks."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    async for row in rows:
        sheet.append([neutralised(v) for v in row])
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        handle.seek(0)
        while chunk := handle.read(65536):
            yield chunk
