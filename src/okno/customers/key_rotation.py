"""Re-sealing personal data under the newest key (``okno keys rotate``).

Put the new key first in ``OKNO_SECRET_KEYS`` (old keys after it: they still open old rows),
run the rotation, then remove the old keys. Every column sealed with ``okno.kit.pii`` types is
found in the schema itself, walked by primary key in batches, one short write transaction per
batch: a row whose values are all under the newest key is only read, so an interrupted rotation
is simply run again. Blind indexes (``value_index``) are recomputed with the values, and the
matcher's blinded blocking keys are re-filed at the end.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, Column, JSON, LargeBinary, select, Table, tuple_, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit import pii
from okno.kit.db import Base, Database
from okno.models import Customer

BATCH = 500


@dataclass
class SealedTable:
    table: Table
    keys: tuple[Column, ...]  # the primary key (one column, or several: report_surveys)
    columns: list[Column]
    indexed: bool  # carries ``kind``, ``value`` and its blind index ``value_index``


@dataclass
class RotationReport:
    resealed: dict[str, int] = field(default_factory=dict)  # "table.column" → rows re-sealed
    refiled: int = 0


def sealed_tables() -> list[SealedTable]:
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, pii.Sealed | pii.SealedJson | pii.PartlySealedJson)]
        if columns:
            found.append(SealedTable(table, tuple(table.primary_key.columns), columns, "value_index" in table.columns))
    return found


def _old(value: object, newest: bytes) -> bool:
    """Whether a stored (still sealed) value needs the newest key."""
    if value is None:
        return False
    if isinstance(value, dict):  # a partly sealed document
        return any(
            isinstance(v, str) and v.startswith(pii.SEALED_MARK) and base64.b64decode(v[len(pii.SEALED_MARK) :])[1:5] != newest
            for v in value.values()
        )
    return bytes(value)[1:5] != newest  # type: ignore[arg-type]


def _stored(column: Column) -> object:
    """The column as stored, without opening it."""
    return type_coerce(column, JSON() if isinstance(column.type, pii.PartlySealedJson) else LargeBinary())


async def old_values(session: AsyncSession) -> dict[str, int]:
    """Per ``table.column``: how many stored values no key but an older one opens (0 after a rotation)."""
    newest = pii.keys().newest_key_id
    counts: dict[str, int] = {}
    for spec in sealed_tables():
        rows = await session.execute(select(*(_stored(c) for c in spec.columns)))
        for row in rows:
            for column, value in zip(spec.columns, row, strict=True):
                if _old(value, newest):
                    name = f"{spec.table.name}.{column.name}"
                    counts[name] = counts.get(name, 0) + 1
    return counts


async def rotate(db: Database, *, batch: int = BATCH, progress: Callable[[str, object], None] = lambda table, cursor: None) -> RotationReport:
    report = RotationReport()
    for spec in sealed_tables():
        cursor = None
        while True:
            async with db.transaction() as session:
                cursor, counts = await _reseal_batch(session, spec, cursor, batch)
            for name, n in counts.items():
                report.resealed[name] = report.resealed.get(name, 0) + n
            if cursor is None:
                break
            progress(spec.table.name, cursor)
    report.refiled = await _refile_blocks(db, batch, progress)
    return report


async def _reseal_batch(session: AsyncSession, spec: SealedTable, after: object, batch: int) -> tuple[object, dict[str, int]]:
    """Re-seals the rows of one batch that need it; returns the next cursor (None: table done)."""
    newest = pii.keys().newest_key_id
    n = len(spec.keys)
    key = tuple_(*spec.keys) if n > 1 else spec.keys[0]
    query = select(*spec.keys, *(_stored(c) for c in spec.columns)).order_by(*spec.keys).limit(batch)
    if after is not None:
        query = query.where(key > (tuple_(*after) if n > 1 else after))
    rows = (await session.execute(query)).all()
    if not rows:
        return None, {}
    counts: dict[str, int] = {}
    stale: list[object] = []
    for row in rows:
        old = [c for c, v in zip(spec.columns, row[n:], strict=True) if _old(v, newest)]
        if old:
            stale.append(tuple(row[:n]) if n > 1 else row[0])
            for column in old:
                counts[f"{spec.table.name}.{column.name}"] = counts.get(f"{spec.table.name}.{column.name}", 0) + 1
    if stale:
        opened = (await session.execute(select(*spec.keys, *spec.columns, *_index_inputs(spec)).where(key.in_(stale)))).all()
        values = {f"v_{c.name}": bindparam(f"v_{c.name}") for c in spec.columns}
        match = [k == bindparam(f"k_{k.name}") for k in spec.keys]
        statement = update(spec.table).where(*match).values({c.name: values[f"v_{c.name}"] for c in spec.columns})
        if spec.indexed:
            statement = statement.values(value_index=bindparam("v_index"))
        params = []
        for row in opened:
            param = {**{f"k_{k.name}": row[i] for i, k in enumerate(spec.keys)}, **{f"v_{c.name}": row[n + i] for i, c in enumerate(spec.columns)}}
            if spec.indexed:
                param["v_index"] = pii.blind_index(row.kind, row.value)
            params.append(param)
        await session.execute(statement, params)
    last = rows[-1]
    return (tuple(last[:n]) if n > 1 else last[0]) if len(rows) == batch else None, counts


def _index_inputs(spec: SealedTable) -> list[Column]:
    return [spec.table.c.kind] if spec.indexed else []


async def _refile_blocks(db: Database, batch: int, progress: Callable[[str, object], None]) -> int:
    """The matcher's blocking keys are blinded with the newest key: re-file every profile whose
    keys differ from what the newest key gives (all of them, once per rotation)."""
    from okno.customers.matching.profiles import refile_stale_profiles

    refiled, after = 0, 0
    while True:
        async with db.transaction() as session:
            ids = list((await session.scalars(select(Customer.id).where(Customer.id > after).order_by(Customer.id).limit(batch))).all())
            if not ids:
                return refiled
            refiled += await refile_stale_profiles(session, ids)
        after = ids[-1]
        progress("match_blocks", after)
