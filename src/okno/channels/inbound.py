"""Durable raw inbound items, deduplicated by (channel, provider id), staged in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from orjson import Fragment
from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import InboundMessage, InboundStatus
from okno.kit.bulk import BulkInsert
from okno.kit.db import insert_ignoring_duplicates
from okno.kit.time import utcnow
from okno.models import InboundItem


@dataclass(frozen=True)
class Accepted:
    stored: int
    duplicates: int


def raw_text(raw: bytes) -> str:
    """The request body as storable text (invalid UTF-8 and NUL, which PostgreSQL refuses, replaced)."""
    text = raw.decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd") if b"\x00" in raw else text


# a raw item's columns, in the order of :func:`raw_item_values`' tuples
_RAW_COLUMNS = ("channel_id", "provider_id", "item", "raw", "status", "error", "received_at", "processed_at")


def raw_item_values(
    channel_id: int, item: InboundMessage | InboundStatus, raw: str, now: datetime, status: str = "pending", error: str | None = None
) -> tuple[Any, ...]:
    """A raw item's values in ``_RAW_COLUMNS`` order (the intake's hot path: no dict per row),
    the item already as its JSON text: pydantic writes it in one step (``to_json``) instead of
    building the Python document that the sealed column then serialises (the same document:
    ``orjson.Fragment`` is taken as given by the column's ``orjson.dumps``)."""
    return (
        channel_id,
        item.provider_id,
        Fragment(item.__pydantic_serializer__.to_json(item)),
        raw,
        status,
        error,
        now,
        None if status == "pending" else now,
    )


def raw_item_row(
    channel_id: int,
    item: InboundMessage | InboundStatus,
    raw: str,
    now: datetime,
    *,
    status: str = "pending",
    error: str | None = None,
    item_as_text: bool = False,
) -> dict[str, Any]:
    """:func:`raw_item_values` by column name, the item as its Python document (polling and
    staging: a few items at a time). ``item_as_text``: kept as pydantic's JSON text instead, which
    writes any integer (the document's column writer refuses one past 64 bits): for an item stored
    only as ``failed`` for holding such an integer (``okno.channels.int_range``)."""
    row = dict(zip(_RAW_COLUMNS, raw_item_values(channel_id, item, raw, now, status, error), strict=True))
    if not item_as_text:
        row["item"] = item.__pydantic_serializer__.to_python(item, mode="json")  # model_dump(mode="json") without its wrapper
    return row


@cache
def _insert_raw(dialect_name: str) -> Insert:
    """Built once per dialect: SQLAlchemy then reuses its compiled form for every group."""
    stmt = insert_ignoring_duplicates(InboundItem.__table__, dialect_name, ["channel_id", "provider_id"])
    return stmt.returning(InboundItem.id, InboundItem.channel_id, InboundItem.provider_id)


_RAW_VALUES = itemgetter(*_RAW_COLUMNS)  # a row's values in column order
_RAW = BulkInsert(InboundItem.__table__, _RAW_COLUMNS)
_RAW_TAIL = "ON CONFLICT (channel_id, provider_id) DO NOTHING RETURNING id, channel_id, provider_id"


async def insert_raw_items(session: AsyncSession, rows: list[dict[str, Any]] | list[tuple[Any, ...]]) -> dict[tuple[int, str], int]:
    """One batched ``INSERT … ON CONFLICT DO NOTHING``; the new rows' ids by (channel, provider id).
    ``rows`` are all :func:`raw_item_row` dicts or all :func:`raw_item_values` tuples.
    SQLite: the rows go to the driver as one multi-row statement of tuples (``okno.kit.bulk``);
    PostgreSQL: SQLAlchemy's statement, built once."""
    as_dicts = bool(rows) and isinstance(rows[0], dict)
    if session.bind.dialect.name == "sqlite":
        result = await _RAW.run_returning_sqlite(session, list(map(_RAW_VALUES, rows)) if as_dicts else rows, _RAW_TAIL)
    else:
        params = rows if as_dicts or not rows else [dict(zip(_RAW_COLUMNS, row, strict=True)) for row in rows]
        result = await session.execute(_insert_raw(session.bind.dialect.name), params)
    return {(channel_id, provider_id): row_id for row_id, channel_id, provider_id in result}


async def stage_items(session: AsyncSession, channel_id: int, items: list[InboundMessage | InboundStatus], raw: bytes) -> Accepted:
    """Stores pending items within the caller's transaction; a key seen before is a duplicate."""
    text, now = raw_text(raw), utcnow()
    stored = len(await insert_raw_items(session, [raw_item_row(channel_id, item, text, now) for item in items]))
    return Accepted(stored=stored, duplicates=len(items) - stored)
