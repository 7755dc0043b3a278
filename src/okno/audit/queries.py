"""The admins' view of the audit log: filtered, newest first, paged by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.errors import Invalid
from okno.models import AuditEntry, Operator


@dataclass(frozen=True)
class AuditFilter:
    customer_id: int | None = None
    actor_id: int | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("read." for every read)
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise Invalid("from must not be after to")


async def audit_page(session: AsyncSession, flt: AuditFilter, *, before_id: int | None, limit: int) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if flt.customer_id is not None:
        query = query.where(AuditEntry.customer_id == flt.customer_id)
    if flt.actor_id is not None:
        query = query.where(AuditEntry.actor_id == flt.actor_id)
    if flt.action:
        query = query.where(AuditEntry.action.startswith(flt.action, autoescape=True) if flt.action.endswith(".") else AuditEntry.action == flt.action)
    if flt.since is not None:
        query = query.where(AuditEntry.at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditEntry.at < flt.until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(await session.scalars(query))


async def actor_names(session: AsyncSession, entries: list[AuditEntry]) -> dict[int, tuple[str, str]]:
    """Each actor's name and kind (person | integration) for the entries shown."""
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    if not ids:
        return {}
    rows = await session.execute(select(Operator.id, Operator.name, Operator.kind).where(Operator.id.in_(ids)))
    return {row.id: (row.name, row.kind) for row in rows}
