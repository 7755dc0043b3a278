"""Keys that don't prove identity, kept on the profile as evidence for the matcher only."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey
from okno.customers.matching.profiles import UNVERIFIED, refresh_profiles
from okno.kit.time import utcnow
from okno.models import Customer


async def keep_as_evidence(session: AsyncSession, found: dict[int, list[IdentityKey]]) -> None:
    """Adds ``kind:value`` strings to ``attributes["unverified_identities"]`` (no repeats)."""
    if not found:
        return
    rows = await session.execute(select(Customer.id, Customer.attributes).where(Customer.id.in_(found)))
    changed = []
    for customer_id, attributes in rows.all():
        known = list((attributes or {}).get(UNVERIFIED) or [])
        new = [str(k) for k in found[customer_id] if str(k) not in known]
        if new:
            await session.execute(
                update(Customer).where(Customer.id == customer_id).values(attributes={**(attributes or {}), UNVERIFIED: known + new}, updated_at=utcnow())
            )
            changed.append(customer_id)
    await refresh_profiles(session, changed)
