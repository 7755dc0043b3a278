from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import AuditEntry


async def audit(
    session: AsyncSession, *, actor_id: int | None, action: str, subject: tuple[str, object], data: dict[str, Any] | None = None
) -> None:
    session.add(AuditEntry(actor_id=actor_id, action=action, subject_type=subject[0], subject_id=str(subject[1]), data=data or {}))
