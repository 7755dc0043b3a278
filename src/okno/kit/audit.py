"""The audit log: who did what to which record. Written in the caller's transaction, so a change
and its entry commit together (reads are recorded by ``okno.audit.reads`` in batches)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import AuditEntry


async def audit(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    subject: tuple[str, object],
    data: dict[str, Any] | None = None,
    customer_id: int | None = None,
) -> None:
    """``customer_id`` names the customer the entry is about (``GET /api/v1/audit?customer_id=``);
    it defaults to the subject when the subject is a customer."""
    if customer_id is None and subject[0] == "customer" and str(subject[1]).isdigit():
        customer_id = int(str(subject[1]))
    session.add(
        AuditEntry(
            actor_id=actor_id, action=action, subject_type=subject[0], subject_id=str(subject[1]), data=data or {}, customer_id=customer_id
        )
    )
